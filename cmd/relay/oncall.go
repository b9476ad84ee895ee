package main

import (
	"io"

	"github.com/mindoffice/mind-relay/internal/app"
)

func oncall(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("oncall", stderr)
	cfg := fs.String("config", "", "configuration file")
	at := fs.String("at", "", `the time to ask about: RFC 3339, or "2006-01-02T15:04" in each schedule's time zone (default: now)`)
	name := fs.String("schedule", "", "only this schedule")
	n := fs.Int("handoffs", 3, "how many next handoffs to print")
	if err := parse(fs, args, cfg); err != nil {
		return err
	}
	return app.OnCall(app.OnCallOptions{ConfigFile: *cfg, At: *at, Schedule: *name, Handoffs: *n, Out: stdout})
}
