// Command fakemind serves the strict fake Mind (internal/mind/mindtest) as a
// process, with its control API, for benchmarks and manual trials.
//
// It binds before it says anything: the first line on stdout is the base
// URL it serves (http://127.0.0.1:PORT), written only once the port is
// bound. The default port is 0, a free one the system picks, so that it
// never collides with anything else on the machine; scripts read the URL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fakemind:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends; it returns at once when it cannot bind.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakemind", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "listen address (port 0: a free port, printed on stdout)")
	appID := fs.String("app-id", mindtest.DefaultAppID, "app id the fake accepts")
	appSecret := fs.String("app-secret", mindtest.DefaultAppSecret, "app secret the fake accepts")
	delay := fs.Duration("delay", 0, "answer every request after this delay (Mind's own latency)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	f := mindtest.New(mindtest.Config{AppID: *appID, AppSecret: *appSecret, ControlAPI: true})
	if *delay > 0 {
		d := *delay
		f.SetHook(func(*http.Request, int) *mindtest.Fault { return &mindtest.Fault{Delay: d} })
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	url := "http://" + ln.Addr().String()
	if _, err := fmt.Fprintln(stdout, url); err != nil {
		_ = ln.Close()
		return fmt.Errorf("print the address: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("fake Mind listening", "url", url, "control_api", url+mindtest.ControlPrefix)

	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
