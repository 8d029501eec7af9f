// Package likecheck checks what callers of PUT and DELETE
// /wallpapers/{id}/like saw against the contract of like counts: every
// answer's like_count is exact at its moment, the number of likes the
// wallpaper had at some instant between the call being sent and its answer
// arriving, with the caller's own change made (docs/benchmarks.md, "Hot
// likes"). The store tests, the HTTP tests and the benchmark share it, so
// all three hold the service to the same definition.
//
// A checker knows only what its callers saw: when each call was sent and
// answered, what it asked and what it got. Between two of one user's calls
// the user's state is known (liked after a PUT, not after a DELETE); while
// a call is in flight it may be either. Check accepts an answer when some
// instant inside the call's window admits it; CheckPhase is exact for a
// phase in which every call changes the count in the same direction.
package likecheck

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Call is one like (PUT) or unlike (DELETE) of one wallpaper as its caller
// saw it.
type Call struct {
	User  string    // who called; one user's calls do not overlap
	Like  bool      // PUT: true; DELETE: false
	Start time.Time // taken before the request was sent
	End   time.Time // taken after the answer arrived
	Count int       // the like_count answered
}

// History is every like and unlike of one wallpaper over a stretch of
// time, by users whose state before it is Initially (absent: not liking),
// on a wallpaper that others, who did not call meanwhile, liked Base
// times.
type History struct {
	Base      int
	Initially map[string]bool
	Calls     []Call
}

// Final is the count the wallpaper must have when every call has been
// answered: Base plus the users whose last call (or initial state) likes.
func (h History) Final() int {
	state := make(map[string]bool, len(h.Initially))
	for u, l := range h.Initially {
		state[u] = l
	}
	for _, c := range sorted(h.Calls) {
		state[c.User] = c.Like
	}
	n := h.Base
	for _, l := range state {
		if l {
			n++
		}
	}
	return n
}

func sorted(calls []Call) []Call {
	out := slices.Clone(calls)
	slices.SortStableFunc(out, func(a, b Call) int { return a.Start.Compare(b.Start) })
	return out
}

// step is the count's bounds from one instant on: definite likes (users
// not in flight, and in-flight calls that change nothing) and ambiguous
// ones (in-flight calls that change the user's state).
type step struct {
	at                  time.Time
	definite, ambiguous int
}

// Check returns an error naming the first answer no instant of its call's
// window admits, or users whose calls overlap. It is sound (a service
// whose counts are exact at their moment always passes) but, with many
// calls in flight at once, it cannot see an answer off by fewer than the
// calls in flight around it; CheckPhase can.
func (h History) Check() error {
	calls := sorted(h.Calls)
	prev := make([]bool, len(calls)) // each call's user's state before it
	state := make(map[string]bool, len(h.Initially))
	last := make(map[string]time.Time)
	for u, l := range h.Initially {
		state[u] = l
	}
	// Calls sorted by start: each user's in order.
	for i, c := range calls {
		if c.End.Before(c.Start) {
			return fmt.Errorf("call %d of %s ends before it starts", i, c.User)
		}
		if t, ok := last[c.User]; ok && c.Start.Before(t) {
			return fmt.Errorf("calls of %s overlap at %v: each user's calls must follow one another", c.User, c.Start)
		}
		last[c.User] = c.End
		prev[i] = state[c.User]
		state[c.User] = c.Like
	}

	type event struct {
		at    time.Time
		start bool
		i     int
	}
	events := make([]event, 0, 2*len(calls))
	for i, c := range calls {
		events = append(events, event{c.Start, true, i}, event{c.End, false, i})
	}
	slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
	definite := h.Base
	for _, l := range h.Initially {
		definite += b2i(l)
	}
	ambiguous := 0
	steps := []step{{time.Time{}, definite, ambiguous}}
	for _, e := range events {
		c := calls[e.i]
		changes := prev[e.i] != c.Like
		switch {
		case e.start && changes:
			definite -= b2i(prev[e.i])
			ambiguous++
		case !e.start && changes:
			ambiguous--
			definite += b2i(c.Like)
		}
		if steps[len(steps)-1].at.Equal(e.at) {
			steps[len(steps)-1] = step{e.at, definite, ambiguous}
		} else {
			steps = append(steps, step{e.at, definite, ambiguous})
		}
	}

	for i, c := range calls {
		// The steps in force during (Start, End): the last one at or
		// before Start (the call's own start made one) and those after
		// it, before End.
		k := sort.Search(len(steps), func(j int) bool { return steps[j].at.After(c.Start) }) - 1
		ok := false
		var seen []string
		for ; k < len(steps) && steps[k].at.Before(c.End); k++ {
			lo, hi := steps[k].definite, steps[k].definite+steps[k].ambiguous
			if prev[i] != c.Like {
				// The caller's own change is one of the ambiguous ones;
				// at the answer's moment it is made.
				lo += b2i(c.Like)
				hi += b2i(c.Like) - 1
			}
			if lo <= c.Count && c.Count <= hi {
				ok = true
				break
			}
			if len(seen) < 8 {
				seen = append(seen, fmt.Sprintf("%d..%d", lo, hi))
			}
		}
		if !ok {
			verb := "unlike"
			if c.Like {
				verb = "like"
			}
			return fmt.Errorf("%s by %s answered like_count %d, but during the call (%v) the count could only be in %v",
				verb, c.User, c.Count, c.End.Sub(c.Start), seen)
		}
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CheckPhase checks, exactly, a phase in which every call changes its
// user's state in the same direction (all likes of users not liking, or all
// unlikes of users liking), starting when the count was base and with no
// other change meanwhile. Then the count only climbs (or only falls) one
// commit at a time, and an answer c says that the call committed while the
// count was still at most c: at most k answers can be below base+k+1, and
// the last call to commit sees every other. So, sorted, the i-th answer of
// n likes is between base+i and base+n, which makes the largest base+n
// (the mirror for unlikes).
func CheckPhase(base int, like bool, calls []Call) error {
	n := len(calls)
	if n == 0 {
		return nil
	}
	counts := make([]int, n)
	for i, c := range calls {
		if c.Like != like {
			return errors.New("a phase's calls must all like or all unlike")
		}
		counts[i] = c.Count
		if !like {
			counts[i] = 2*base - c.Count // mirror: an unlike's answer as a like's
		}
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c < base+i+1 || c > base+n {
			lo, hi := mirror(base, like, base+i+1), mirror(base, like, base+n)
			return fmt.Errorf("answer %d of %d (sorted) is %d: not exact at its moment (must be between %d and %d)",
				i+1, n, mirror(base, like, c), min(lo, hi), max(lo, hi))
		}
	}
	return nil
}

func mirror(base int, like bool, c int) int {
	if like {
		return c
	}
	return 2*base - c
}
