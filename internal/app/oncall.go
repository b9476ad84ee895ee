package app

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/schedule"
)

// OnCallOptions are the flags of `relay oncall`.
type OnCallOptions struct {
	ConfigFile string
	// At is the time to ask about: RFC 3339, or a wall clock
	// ("2006-01-02T15:04") read in each schedule's own zone. Empty: now.
	At       string
	Schedule string // only this schedule, when set
	Handoffs int    // how many next handoffs to print (default 3)
	Out      io.Writer
	Now      func() time.Time
}

// OnCall prints, for each schedule of the config (or the one asked for),
// who is on call at the time asked and the next handoffs, so that a
// rotation can be checked before a page depends on it.
func OnCall(opts OnCallOptions) error {
	cfg, err := config.LoadFile(opts.ConfigFile, config.Options{DryRun: true})
	if err != nil {
		return err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Handoffs <= 0 {
		opts.Handoffs = 3
	}
	schedules := cfg.OnCall.All()
	if opts.Schedule != "" {
		sc := cfg.OnCall.Get(opts.Schedule)
		if sc == nil {
			names := make([]string, 0, len(schedules))
			for _, s := range schedules {
				names = append(names, s.Name())
			}
			return fmt.Errorf("no schedule %q in %s (schedules: %s)", opts.Schedule, opts.ConfigFile, orNone(names))
		}
		schedules = []*schedule.Schedule{sc}
	}
	if len(schedules) == 0 {
		fmt.Fprintf(opts.Out, "%s has no schedules\n", opts.ConfigFile)
		return nil
	}
	now := opts.Now()
	for i, sc := range schedules {
		at := now.In(sc.Location())
		if opts.At != "" {
			if at, err = schedule.ParseTime(opts.At, sc.Location()); err != nil {
				return fmt.Errorf("--at: %w", err)
			}
		}
		if i > 0 {
			fmt.Fprintln(opts.Out)
		}
		printSchedule(opts.Out, cfg, sc, at, opts.Handoffs)
	}
	return nil
}

const oncallTime = "2006-01-02 15:04 MST"

func printSchedule(out io.Writer, cfg *config.Config, sc *schedule.Schedule, at time.Time, n int) {
	var receivers []string
	for _, r := range cfg.Receivers {
		if r.Schedule == sc.Name() {
			receivers = append(receivers, r.Name)
		}
	}
	fmt.Fprintf(out, "schedule %s (%s), receivers: %s\n", sc.Name(), sc.Location(), orNone(receivers))
	fmt.Fprintf(out, "  on call at %s: %s\n", at.Format(oncallTime), people(sc.OnCall(at)))
	hs := sc.Handoffs(at, n)
	if len(hs) == 0 {
		fmt.Fprintf(out, "  no handoff in the next %s\n", model.Duration(schedule.Horizon))
		return
	}
	fmt.Fprintln(out, "  next handoffs:")
	for _, h := range hs {
		in := "in " + model.Duration(h.At.Sub(at).Round(time.Minute)).String()
		fmt.Fprintf(out, "    %s  %-10s  %s\n", h.At.Format(oncallTime), in, people(h.OnCall))
	}
}

func people(ids []string) string {
	if len(ids) == 0 {
		return "nobody"
	}
	return strings.Join(ids, ", ")
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
