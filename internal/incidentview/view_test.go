package incidentview

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/store"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		query string
		want  Filter
		err   string
	}{
		{"", Filter{}, ""},
		{"state=open&receiver=db", Filter{State: "open", Receiver: "db"}, ""},
		{"state=resolved&after=1796170764000000001.0a1b", Filter{State: "resolved", After: "1796170764000000001.0a1b"}, ""},
		{"state=Firing", Filter{}, `bad incident filter: unknown state "Firing"`},
		{"after=12", Filter{}, "bad incident filter: bad page cursor"},
		{"after=-1.ab", Filter{}, "bad incident filter: bad page cursor"},
		{"after=1.AB", Filter{}, "bad incident filter: bad page cursor"},
		{"after=1.ab.cd", Filter{}, "bad incident filter: bad page cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			got, err := ParseFilter(q)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				require.ErrorIs(t, err, ErrFilter)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			// The filter's own query string reads back as the filter.
			back, err := url.ParseQuery(stripQ(got.Query()))
			require.NoError(t, err)
			again, err := ParseFilter(back)
			require.NoError(t, err)
			require.Equal(t, got, again)
		})
	}
}

func stripQ(s string) string {
	if s != "" && s[0] == '?' {
		return s[1:]
	}
	return s
}

func TestCursorRoundTrip(t *testing.T) {
	c := store.IncidentCursor{UpdatedAt: time.Date(2026, 11, 22, 2, 10, 0, 123456789, time.UTC), ID: "e517dc148a0b3619"}
	got, err := parseCursor(formatCursor(c))
	require.NoError(t, err)
	require.Equal(t, c, got)
}

// fakeStore is a Store of function fields.
type fakeStore struct {
	incidents func(store.IncidentQuery) ([]incident.Incident, error)
	get       func(id string) (store.Notification, error)
}

func (f fakeStore) Incident(_ context.Context, id string) (incident.Incident, error) {
	incs, err := f.incidents(store.IncidentQuery{})
	if err != nil {
		return incident.Incident{}, err
	}
	for _, inc := range incs {
		if inc.ID == id {
			return inc, nil
		}
	}
	return incident.Incident{}, store.ErrNoIncident
}

func (f fakeStore) Incidents(_ context.Context, q store.IncidentQuery) ([]incident.Incident, error) {
	return f.incidents(q)
}

func (fakeStore) Timeline(context.Context, string) ([]incident.Event, error) { return nil, nil }

func (f fakeStore) Get(_ context.Context, id string) (store.Notification, error) { return f.get(id) }

var t0 = time.Date(2026, 11, 22, 2, 10, 0, 0, time.UTC)

// An incident whose latest card was pruned is still listed and shown,
// and says so; a store that fails fails the page.
func TestLatestCardGoneOrStoreFailing(t *testing.T) {
	inc := incident.Incident{ID: "00aa", GroupID: "g", Receiver: "r", State: incident.Resolved, OpenedAt: t0, UpdatedAt: t0, LastCard: "gone"}
	cfg := &config.Config{Location: time.UTC}
	st := fakeStore{
		incidents: func(store.IncidentQuery) ([]incident.Incident, error) { return []incident.Incident{inc}, nil },
		get:       func(string) (store.Notification, error) { return store.Notification{}, store.ErrNotFound },
	}
	l, err := BuildList(context.Background(), st, cfg, Filter{})
	require.NoError(t, err)
	require.Len(t, l.Rows, 1)
	require.False(t, l.Rows[0].Known)
	require.Equal(t, "（最近的卡片已清理）", l.Rows[0].Title)
	d, err := BuildDetail(context.Background(), st, cfg, "00aa")
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, WriteDetail(&b, d))
	require.Contains(t, b.String(), "这张卡片已从队列中清理")

	broken := errors.New("disk on fire")
	st.get = func(string) (store.Notification, error) { return store.Notification{}, broken }
	_, err = BuildList(context.Background(), st, cfg, Filter{})
	require.ErrorIs(t, err, broken)
	st.incidents = func(store.IncidentQuery) ([]incident.Incident, error) { return nil, broken }
	_, err = BuildList(context.Background(), st, cfg, Filter{})
	require.ErrorIs(t, err, broken)
	_, err = BuildDetail(context.Background(), st, cfg, "00aa")
	require.ErrorIs(t, err, broken)
	_, err = BuildDetail(context.Background(), fakeStore{incidents: func(store.IncidentQuery) ([]incident.Incident, error) { return nil, nil }}, cfg, "00bb")
	require.ErrorIs(t, err, ErrNotFound)
}

// The list asks the store for one page and one more row, to know whether
// there is a next page; the filter becomes the store's query.
func TestListQuery(t *testing.T) {
	var asked []store.IncidentQuery
	st := fakeStore{
		incidents: func(q store.IncidentQuery) ([]incident.Incident, error) { asked = append(asked, q); return nil, nil },
		get:       func(string) (store.Notification, error) { return store.Notification{}, store.ErrNotFound },
	}
	cfg := &config.Config{}
	for _, f := range []Filter{{}, {State: "open", Receiver: "db"}, {State: "acked", After: "5.0f"}} {
		_, err := BuildList(context.Background(), st, cfg, f)
		require.NoError(t, err)
	}
	require.Equal(t, []store.IncidentQuery{
		{Limit: PageSize + 1},
		{States: []incident.State{incident.Firing, incident.Acked}, Receiver: "db", Limit: PageSize + 1},
		{States: []incident.State{incident.Acked}, After: store.IncidentCursor{UpdatedAt: time.Unix(0, 5).UTC(), ID: "0f"}, Limit: PageSize + 1},
	}, asked)
}

// The row says whom the receiver reaches, as the ack page does: a
// schedule's on-call engineers, all subscribers, or people by count; a
// receiver a reload removed, whom its card went to.
func TestRecipients(t *testing.T) {
	cfg, err := config.Load([]byte(`
mind: {app_id: robot_test}
route: {receiver: people}
receivers:
  - {name: people, open_ids: [ou_a, ou_b]}
  - {name: everyone, all_subscribers: true}
  - {name: rota, schedule: ops}
  - {name: both, open_ids: [ou_x], schedule: ops}
schedules:
  - name: ops
    rotation: {every: 1w, start: "2026-01-05T10:00", members: [ou_a, ou_b]}
`), t.TempDir())
	require.NoError(t, err)
	for receiver, want := range map[string]string{
		"people":   "2 人",
		"everyone": "全部订阅用户",
		"rota":     "值班表 ops 的值班人员",
		"both":     "1 人及值班表 ops 的值班人员",
		"removed":  "3 人", // as the queued group remembers it
	} {
		inc := incident.Incident{ID: "0a", GroupID: "g", Receiver: receiver, State: incident.Firing, LastCard: "c"}
		st := fakeStore{
			incidents: func(store.IncidentQuery) ([]incident.Incident, error) { return []incident.Incident{inc}, nil },
			get: func(string) (store.Notification, error) {
				return store.Notification{ID: "c", Group: []byte(`{"v":1,"group":{"source":"alertmanager","status":"firing","alerts":[]},"open_ids":["ou_1","ou_2","ou_3"]}`)}, nil
			},
		}
		l, err := BuildList(context.Background(), st, cfg, Filter{})
		require.NoError(t, err)
		require.Len(t, l.Rows, 1)
		require.Equal(t, want, l.Rows[0].Recipients, receiver)
	}
}
