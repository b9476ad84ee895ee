package schedule

import (
	"testing"
	"time"
)

// The send path asks once per card; these show what one ask costs.
func BenchmarkRecipientsRotation(b *testing.B) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	r, err := NewRotation(24*time.Hour, "2020-01-06T10:00", sh, []string{"ou_a", "ou_b", "ou_c"})
	if err != nil {
		b.Fatal(err)
	}
	s, _ := New(Spec{Name: "s", Location: sh, Rotation: r})
	set, _ := NewSet(s)
	at := time.Date(2026, 12, 2, 12, 0, 0, 0, sh)
	b.ReportAllocs()
	for b.Loop() {
		set.Recipients([]string{"ou_x"}, "s", at)
	}
}

// A calendar whose daily series began six years before the ask.
func BenchmarkRecipientsCalendar(b *testing.B) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	cal, err := LoadCalendar("testdata/daily.ics", berlin)
	if err != nil {
		b.Fatal(err)
	}
	s, _ := New(Spec{Name: "s", Location: berlin, Calendar: cal})
	set, _ := NewSet(s)
	at := time.Date(2026, 12, 2, 12, 0, 0, 0, berlin)
	b.ReportAllocs()
	for b.Loop() {
		set.Recipients(nil, "s", at)
	}
}
