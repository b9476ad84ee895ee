// Command noop is the baseline of the webhook benchmark: a Gin server that
// reads the body and answers 200, doing nothing else. The relay's accepted
// webhooks per second are compared against it on the same machine.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"

	"github.com/gin-gonic/gin"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18090", "listen address")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.POST("/webhook/alertmanager", func(c *gin.Context) {
		_, _ = io.Copy(io.Discard, c.Request.Body)
		c.JSON(http.StatusOK, gin.H{"status": "accepted"})
	})
	log.Fatal(http.ListenAndServe(*listen, e))
}
