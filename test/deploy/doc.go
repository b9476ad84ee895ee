// Package deploy holds no code: its tests check what ships beside the
// binary — the Helm chart, the examples, the alert rules and the config
// reference — with the tools operators use on them (helm, promtool, amtool)
// and with the relay's own `check-config`.
//
// A tool that is missing skips its tests, unless CI=true or
// MIND_RELAY_REQUIRE_TOOLS=1, which make it a failure. `make tools` installs
// them.
package deploy
