// Command fakemind serves the strict fake Mind (internal/mind/mindtest) as a
// process, with its control API, for benchmarks and manual trials.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "listen address")
	appID := flag.String("app-id", mindtest.DefaultAppID, "app id the fake accepts")
	appSecret := flag.String("app-secret", mindtest.DefaultAppSecret, "app secret the fake accepts")
	delay := flag.Duration("delay", 0, "answer every request after this delay (Mind's own latency)")
	flag.Parse()

	f := mindtest.New(mindtest.Config{AppID: *appID, AppSecret: *appSecret, ControlAPI: true})
	if *delay > 0 {
		d := *delay
		f.SetHook(func(*http.Request, int) *mindtest.Fault { return &mindtest.Fault{Delay: d} })
	}
	srv := &http.Server{Addr: *listen, Handler: f, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("fake Mind on http://%s (control API under %s)", *listen, mindtest.ControlPrefix)
	log.Fatal(srv.ListenAndServe())
}
