package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/testutil"
)

// By default the fake binds a free port and prints the URL it serves,
// which then answers.
func TestDefaultPortIsFreeAndPrinted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var logs testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, pw, &logs) }()

	url, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	url = strings.TrimSpace(url)
	require.Regexp(t, `^http://127\.0\.0\.1:[0-9]+$`, url)
	require.NotEqual(t, "http://127.0.0.1:0", url)

	resp, err := http.Get(url + "/_mindtest/attempts")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, logs.String(), "listening")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return")
	}
}

// A port taken by something else is an error at once, and nothing claims
// to be listening.
func TestBusyPortFailsBeforeSayingListening(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	var stdout, logs testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- run(context.Background(), []string{"--listen", busy.Addr().String()}, &stdout, &logs) }()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "listen")
	case <-time.After(5 * time.Second):
		t.Fatal("run did not fail on a busy port")
	}
	require.Empty(t, stdout.String())
	require.NotContains(t, logs.String(), "listening")
}
