package main

import (
	"os"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

// TestMain drops the template database the tests that run the whole program
// (nginx_test.go) clone their databases from.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
