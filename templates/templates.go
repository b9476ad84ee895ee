// Package templates holds the relay's default card templates. Its only job is
// to embed them: go:embed cannot reach a parent folder, so the .tmpl files
// live here and internal/render parses FS before the user's files.
//
// README.md beside this file lists the templates a user can override.
package templates

import "embed"

// FS holds the default templates (*.tmpl).
//
//go:embed *.tmpl
var FS embed.FS
