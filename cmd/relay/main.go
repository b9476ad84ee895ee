// Command relay is mind-relay: it turns Prometheus Alertmanager and Grafana
// alerts into interactive Mind cards. See the README for the commands.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mindoffice/mind-relay/internal/app"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
// Without them, the commit is the one Go stamps into a plain `go build` of
// a git checkout (see versionLine).
var (
	version = "dev"
	commit  = "unknown"
)

// versionLine describes the binary: the stamped version and commit, or,
// when none was stamped, what the Go toolchain recorded of the checkout
// it was built from (vcs.revision, vcs.modified) and the module version.
func versionLine(version, commit string, info *debug.BuildInfo) string {
	if info != nil {
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		rev := settings["vcs.revision"]
		short := rev[:min(12, len(rev))]
		if commit == "unknown" && rev != "" {
			commit = short
			if settings["vcs.modified"] == "true" {
				commit += "-dirty" // built with changes not committed
			}
		}
		// A tagged module version (go install ...@v1.2.3) says more than
		// "dev"; a pseudo-version only repeats the commit.
		if v := info.Main.Version; version == "dev" && v != "" && v != "(devel)" && (short == "" || !strings.Contains(v, short)) {
			version = v
		}
	}
	return fmt.Sprintf("mind-relay %s (commit %s, %s %s/%s)", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func buildInfo() *debug.BuildInfo {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return info
}

const usage = `mind-relay: Alertmanager and Grafana alerts as interactive Mind cards.

Usage:
  relay serve --config FILE [--listen ADDR] [--dry-run]
  relay check-config --config FILE [--dry-run]
  relay render --config FILE --source alertmanager|grafana [--receiver NAME] [--input FILE] [--html FILE]
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
		fmt.Fprintln(stdout, versionLine(version, commit, buildInfo()))
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
	reload, stopReload := watchReload(make(chan os.Signal, 1))
	defer stopReload()

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

// watchReload turns each SIGHUP, received on hup, into a reload request.
// stop stops the signal's delivery to hup (signal.Stop: after it, SIGHUP
// has its default effect again) and ends the goroutine.
func watchReload(hup chan os.Signal) (reload <-chan struct{}, stop func()) {
	out := make(chan struct{})
	done := make(chan struct{})
	var wg sync.WaitGroup
	signal.Notify(hup, syscall.SIGHUP)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-hup:
				select {
				case out <- struct{}{}:
				case <-done:
					return
				}
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() {
			signal.Stop(hup)
			close(done)
			wg.Wait()
		})
	}
}

func checkConfig(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check-config", stderr)
	cfg := fs.String("config", "", "configuration file")
	dryRun := fs.Bool("dry-run", false, "check for `relay serve --dry-run`: the Mind app (mind.app_id, mind.app_secret) is not required")
	if err := parse(fs, args, cfg); err != nil {
		return err
	}
	if err := app.CheckConfig(*cfg, *dryRun, stdout); err != nil {
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
	htmlFile := fs.String("html", "", "also write the cards drawn as Mind shows them to this HTML file")
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
	opts := app.RenderOptions{ConfigFile: *cfg, Source: *source, Receiver: *receiver, Input: in, Out: stdout, Errs: stderr}
	if *htmlFile == "" {
		return app.Render(context.Background(), opts)
	}
	var doc bytes.Buffer
	opts.HTML = &doc
	if err := app.Render(context.Background(), opts); err != nil {
		return err
	}
	return os.WriteFile(*htmlFile, doc.Bytes(), 0o644)
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
