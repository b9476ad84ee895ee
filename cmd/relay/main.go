// Command relay is mind-relay: it turns Prometheus Alertmanager and Grafana
// alerts into interactive Mind cards. See the README for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mindoffice/mind-relay/internal/app"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

const usage = `mind-relay: Alertmanager and Grafana alerts as interactive Mind cards.

Usage:
  relay serve --config FILE [--listen ADDR] [--dry-run]
  relay check-config --config FILE
  relay render --config FILE --source alertmanager|grafana [--receiver NAME] [--input FILE]
  relay oncall --config FILE [--at TIME] [--schedule NAME] [--handoffs N]
  relay dlq list --config FILE
  relay dlq replay ID... | --all --config FILE
  relay version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serve(args, stderr)
	case "check-config":
		err = checkConfig(args, stdout, stderr)
	case "render":
		err = render(args, stdin, stdout, stderr)
	case "dlq":
		err = dlq(args, stdout, stderr)
	case "oncall":
		err = oncall(args, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "mind-relay %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, new(errSilent)):
		return 1
	default:
		fmt.Fprintln(stderr, "relay:", err)
		return 1
	}
}

var errUsage = errors.New("usage")

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("relay "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string, needConfig *string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if needConfig != nil && *needConfig == "" {
		fmt.Fprintf(fs.Output(), "%s: --config is required\n", fs.Name())
		return errUsage
	}
	return nil
}

func serve(args []string, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	cfg := fs.String("config", "", "configuration file")
	listen := fs.String("listen", "", "listen address, overriding the config's listen")
	dryRun := fs.Bool("dry-run", false, "log each Mind request as one JSON line instead of sending it")
	if err := parse(fs, args, cfg); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{})
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return app.Serve(ctx, app.ServeOptions{
		ConfigFile: *cfg,
		Listen:     *listen,
		DryRun:     *dryRun,
		Registry:   reg,
		Reload:     reload,
		Logs:       stderr,
	})
}

func checkConfig(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check-config", stderr)
	cfg := fs.String("config", "", "configuration file")
	if err := parse(fs, args, cfg); err != nil {
		return err
	}
	if err := app.CheckConfig(*cfg, stdout); err != nil {
		return errSilent{err}
	}
	return nil
}

// errSilent fails the command without printing again what was printed.
type errSilent struct{ error }

func render(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("render", stderr)
	cfg := fs.String("config", "", "configuration file")
	source := fs.String("source", "alertmanager", "payload source: alertmanager or grafana")
	receiver := fs.String("receiver", "", "send to this receiver instead of routing")
	input := fs.String("input", "", "payload file (default: standard input)")
	if err := parse(fs, args, cfg); err != nil {
		return err
	}
	in := stdin
	if *input != "" && *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	return app.Render(context.Background(), app.RenderOptions{
		ConfigFile: *cfg, Source: *source, Receiver: *receiver, Input: in, Out: stdout, Errs: stderr,
	})
}

func dlq(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		fmt.Fprint(stderr, "usage: relay dlq list --config FILE\n       relay dlq replay ID... | --all --config FILE\n")
		return errUsage
	}
	sub := args[0]
	fs := newFlags("dlq "+sub, stderr)
	cfg := fs.String("config", "", "configuration file")
	all := fs.Bool("all", false, "replay: every dead letter")
	// Accept flags before or after the IDs.
	var ids []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		ids = append(ids, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *cfg == "" {
		fmt.Fprintln(stderr, "relay dlq: --config is required")
		return errUsage
	}
	switch {
	case sub == "list" && (len(ids) > 0 || *all):
		fmt.Fprintln(stderr, "relay dlq list takes no IDs")
		return errUsage
	case sub == "replay" && len(ids) == 0 && !*all:
		// As over HTTP: replaying everything must be asked for in so many
		// words, not be what a forgotten argument does.
		fmt.Fprintln(stderr, "relay dlq replay: name the IDs to replay, or --all")
		return errUsage
	case sub == "replay" && len(ids) > 0 && *all:
		fmt.Fprintln(stderr, "relay dlq replay: IDs or --all, not both")
		return errUsage
	}
	return app.DLQ(context.Background(), *cfg, sub, ids, stdout)
}
