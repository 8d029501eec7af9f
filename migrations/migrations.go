// Package migrations holds wallpaperd's SQL migrations, embedded in the
// binary and applied by goose.
package migrations

import "embed"

// FS is the set of migration files, named NNNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
