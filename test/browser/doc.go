// Package browser holds no code: its tests load the relay's pages in a real
// headless Chromium (Debian's chromium package; scripts/deps.sh installs
// it) and check what a person sees — the template preview drawn, logged in
// from the keyboard; the incident view after webhooks, each incident in its
// card's colour — with screenshots kept as artifacts ($MIND_RELAY_ARTIFACTS,
// else the test's temp folder).
//
// Chromium is driven over the DevTools protocol with chromedp. A missing
// Chromium skips the tests, unless CI=true or MIND_RELAY_REQUIRE_TOOLS=1,
// which make it a failure.
package browser
