//go:build browser

package browser

import (
	"os"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
