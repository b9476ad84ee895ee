package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/payload"
	"github.com/mindoffice/mind-relay/internal/preview"
	"github.com/mindoffice/mind-relay/internal/store"
)

// CheckConfig validates the config file for a relay started with (or,
// dryRun false, without) --dry-run, with the check serve makes: it prints
// every problem, each naming its key, and returns an error when there is
// one. Warnings (legal but probably unintended settings) are printed and
// do not fail.
func CheckConfig(path string, dryRun bool, out io.Writer) error {
	cfg, err := Check(path, dryRun)
	if err != nil {
		fmt.Fprintln(out, "FAILED:", path)
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(out, "  -", p)
			}
		} else {
			fmt.Fprintln(out, "  -", err)
		}
		return errors.New("config is not valid")
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(out, "  warning:", w)
	}
	if dryRun {
		// Say so: the same file may still be refused without --dry-run.
		fmt.Fprintf(out, "SUCCESS: %s is valid for serve --dry-run (%d receivers); the Mind app was not checked\n", path, len(cfg.Receivers))
		return nil
	}
	fmt.Fprintf(out, "SUCCESS: %s is valid (%d receivers)\n", path, len(cfg.Receivers))
	return nil
}

// RenderOptions are the flags of `relay render`.
type RenderOptions struct {
	ConfigFile string
	Source     string // alertmanager or grafana
	Receiver   string // bypass routing when set
	Input      io.Reader
	Out        io.Writer
	Errs       io.Writer // skipped alerts are reported here
	HTML       io.Writer // when set, the cards drawn as one HTML document (--html)
	Now        func() time.Time
}

// renderLine is one line of `relay render` output.
type renderLine struct {
	Receiver string          `json:"receiver"`
	Endpoint string          `json:"endpoint"`
	Body     json.RawMessage `json:"body"`
}

// Render reads a payload, routes and renders it exactly as the server
// would, and prints one JSON object a line per Mind request. It sends
// nothing.
func Render(ctx context.Context, opts RenderOptions) error {
	// Render sends nothing: like a dry run, it needs no Mind app.
	cfg, err := Check(opts.ConfigFile, true)
	if err != nil {
		return err
	}
	st, err := buildState(cfg, nil, NewLogger(io.Discard, "error"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(opts.Input, 64<<20))
	if err != nil {
		return fmt.Errorf("read payload: %w", err)
	}
	// The same route and render calls the server makes, through the
	// template preview's runner, so that --html draws exactly these cards.
	res, err := preview.Run(ctx, st, preview.Input{Source: alert.Source(opts.Source), Payload: body, Receiver: opts.Receiver}, opts.Now)
	if opts.Errs != nil {
		for _, s := range res.Skipped {
			fmt.Fprintf(opts.Errs, "skipped alerts[%d]: %s\n", s.Index, s.Reason)
		}
		for _, c := range res.Cards {
			for _, e := range c.Errors {
				fmt.Fprintf(opts.Errs, "receiver %s: the fallback card would be sent: %s\n", c.Receiver, e.Msg)
			}
		}
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(opts.Out)
	enc.SetEscapeHTML(false)
	for _, c := range res.Cards {
		if err := enc.Encode(renderLine{Receiver: c.Receiver, Endpoint: c.Endpoint, Body: c.Body}); err != nil {
			return err
		}
	}
	if opts.HTML != nil {
		if err := preview.WriteDocument(opts.HTML, res); err != nil {
			return err
		}
	}
	return nil
}

// Parse reads a webhook body of the given source.
func Parse(src alert.Source, body []byte) (*alert.Group, []payload.Skipped, error) {
	return preview.Parse(src, body)
}

// DLQ lists or replays dead letters straight from the store.
func DLQ(ctx context.Context, configFile, cmd string, ids []string, out io.Writer) (err error) {
	// The dead letters are in the store; the Mind app is not needed.
	cfg, err := config.LoadFile(configFile, config.Options{DryRun: true})
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, store.OptionsFromConfig(cfg.Store))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	switch cmd {
	case "list":
		dead, err := db.ListDead(ctx)
		if err != nil {
			return err
		}
		if len(dead) == 0 {
			fmt.Fprintln(out, "no dead letters")
			return nil
		}
		fmt.Fprintf(out, "%-36s  %-16s  %-8s  %-8s  %-20s  %s\n", "ID", "RECEIVER", "STATUS", "ATTEMPTS", "CREATED", "LAST ERROR")
		for _, n := range dead {
			fmt.Fprintf(out, "%-36s  %-16s  %-8s  %-8d  %-20s  %s\n", n.ID, n.Receiver, n.Status, n.Attempts,
				n.CreatedAt.UTC().Format(time.RFC3339), n.LastError)
		}
		return nil
	case "replay":
		// Say which IDs are not dead letters: "replayed 0" and success for
		// a mistyped ID reads as if it had been sent.
		var unknown []string
		var known []string
		for _, id := range ids {
			n, err := db.Get(ctx, id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				unknown = append(unknown, id+" (no such notification)")
			case err != nil:
				return err
			case n.State != store.StateDead:
				unknown = append(unknown, fmt.Sprintf("%s (%s, not a dead letter)", id, n.State))
			default:
				known = append(known, id)
			}
		}
		if len(ids) == 0 || len(known) > 0 {
			ch, err := db.Replay(ctx, time.Now(), known...)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "replayed %d dead letters; a running relay sends them within its poll interval\n", ch.Count)
		}
		if len(unknown) > 0 {
			return fmt.Errorf("not replayed: %s", strings.Join(unknown, ", "))
		}
		return nil
	default:
		return fmt.Errorf("unknown dlq command %q: use list or replay", cmd)
	}
}
