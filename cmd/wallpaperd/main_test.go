package main

import (
	"os"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

// TestMain drops the template database this process cloned test
// databases from.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
