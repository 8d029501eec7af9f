package likecheck_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/likecheck"
)

var t0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// simulate builds the history of a service whose counts are exact at
// their moment: users users, each making calls calls one after another,
// each call taking effect and reading the count at one instant inside its
// window. It returns the history and the true final count.
func simulate(rnd *rand.Rand, base, users, calls int) (likecheck.History, int) {
	type op struct {
		call   likecheck.Call
		moment time.Time
	}
	var ops []op
	for u := range users {
		clock := rnd.IntN(50)
		for range calls {
			start := clock + rnd.IntN(5)
			end := start + 1 + rnd.IntN(40)
			ops = append(ops, op{likecheck.Call{User: fmt.Sprint("u", u), Like: rnd.IntN(3) > 0,
				Start: at(start), End: at(end)}, at(start).Add(time.Duration(rnd.Int64N(int64(time.Duration(end-start)*time.Millisecond-1)) + 1))})
			clock = end
		}
	}
	slices.SortFunc(ops, func(a, b op) int { return a.moment.Compare(b.moment) })
	state := map[string]bool{}
	count := base
	h := likecheck.History{Base: base}
	for _, o := range ops {
		if state[o.call.User] != o.call.Like {
			state[o.call.User] = o.call.Like
			count += map[bool]int{true: 1, false: -1}[o.call.Like]
		}
		o.call.Count = count
		h.Calls = append(h.Calls, o.call)
	}
	return h, count
}

func TestCheckAcceptsExactCounts(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		h, final := simulate(rnd, rnd.IntN(5), 1+rnd.IntN(30), 1+rnd.IntN(10))
		if err := h.Check(); err != nil {
			t.Fatalf("history %d: %v", i, err)
		}
		if h.Final() != final {
			t.Fatalf("history %d: Final = %d; want %d", i, h.Final(), final)
		}
	}
}

func TestCheckRefuses(t *testing.T) {
	tests := []struct {
		name  string
		h     likecheck.History
		error string
	}{
		{"the count before the caller's own like", likecheck.History{Base: 3, Calls: []likecheck.Call{
			{User: "a", Like: true, Start: at(0), End: at(10), Count: 3},
		}}, "answered like_count 3"},
		{"one too many", likecheck.History{Base: 3, Calls: []likecheck.Call{
			{User: "a", Like: true, Start: at(0), End: at(10), Count: 5},
		}}, "could only be in [4..4]"},
		{"an unlike that did not count", likecheck.History{Initially: map[string]bool{"a": true}, Calls: []likecheck.Call{
			{User: "a", Like: false, Start: at(0), End: at(10), Count: 1},
		}}, "unlike by a"},
		{"a repeated like is no change", likecheck.History{Calls: []likecheck.Call{
			{User: "a", Like: true, Start: at(0), End: at(10), Count: 1},
			{User: "a", Like: true, Start: at(20), End: at(30), Count: 2},
		}}, "answered like_count 2"},
		{"stale: another's like answered before this call began", likecheck.History{Calls: []likecheck.Call{
			{User: "a", Like: true, Start: at(0), End: at(10), Count: 1},
			{User: "b", Like: true, Start: at(20), End: at(30), Count: 1},
		}}, "like by b answered like_count 1"},
		{"a user's calls overlap", likecheck.History{Calls: []likecheck.Call{
			{User: "a", Like: true, Start: at(0), End: at(10), Count: 1},
			{User: "a", Like: false, Start: at(5), End: at(30), Count: 0},
		}}, "overlap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h.Check()
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Fatalf("Check = %v; want an error with %q", err, tt.error)
			}
		})
	}
}

func TestCheckAcceptsOverlap(t *testing.T) {
	// b's like is in flight during a's: a may see it or not.
	for _, seen := range []int{1, 2} {
		h := likecheck.History{Calls: []likecheck.Call{
			{User: "a", Like: true, Start: at(0), End: at(10), Count: seen},
			{User: "b", Like: true, Start: at(5), End: at(20), Count: 2},
		}}
		if err := h.Check(); err != nil {
			t.Errorf("a saw %d: %v", seen, err)
		}
	}
}

func TestCheckPhase(t *testing.T) {
	calls := func(like bool, counts ...int) []likecheck.Call {
		var out []likecheck.Call
		for i, c := range counts {
			out = append(out, likecheck.Call{User: fmt.Sprint(i), Like: like, Count: c})
		}
		return out
	}
	tests := []struct {
		name  string
		base  int
		like  bool
		calls []likecheck.Call
		error string // "" passes
	}{
		{"serial likes", 10, true, calls(true, 11, 12, 13), ""},
		{"likes that saw others", 10, true, calls(true, 13, 12, 13), ""},
		{"serial unlikes", 10, false, calls(false, 9, 8, 7), ""},
		{"unlikes that saw others", 10, false, calls(false, 7, 7, 7), ""},
		{"two saw only themselves", 10, true, calls(true, 11, 11, 13), "answer 2 of 3 (sorted) is 11"},
		{"before its own like", 10, true, calls(true, 10, 12, 13), "answer 1 of 3 (sorted) is 10"},
		{"past the end", 10, true, calls(true, 11, 12, 14), "is 14"},
		{"nobody saw the last", 10, true, calls(true, 11, 12, 12), "answer 3 of 3 (sorted) is 12"},
		{"two unlikes saw only themselves", 10, false, calls(false, 9, 9, 7), "is 9"},
		{"nobody saw the last unlike", 10, false, calls(false, 9, 8, 8), "answer 3 of 3 (sorted) is 8"},
		{"mixed", 10, true, append(calls(true, 11), calls(false, 10)...), "all like or all unlike"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := likecheck.CheckPhase(tt.base, tt.like, tt.calls)
			if tt.error == "" && err != nil || tt.error != "" && (err == nil || !strings.Contains(err.Error(), tt.error)) {
				t.Fatalf("CheckPhase = %v; want %q", err, tt.error)
			}
		})
	}
}
