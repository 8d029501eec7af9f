package metrics

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// JobEvents are the River events WatchJobs wants: every way a job run ends.
var JobEvents = []river.EventKind{
	river.EventKindJobCompleted, river.EventKindJobFailed,
	river.EventKindJobCancelled, river.EventKindJobSnoozed,
}

// WatchJobs records job runs from a River subscription (client.Subscribe(
// JobEvents...)) until ctx ends or the channel closes. Run it in its own
// goroutine: River drops events a slow reader leaves in the buffer.
func (m *Metrics) WatchJobs(ctx context.Context, events <-chan *river.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			m.recordJob(ev)
		}
	}
}

func (m *Metrics) recordJob(ev *river.Event) {
	if ev == nil || ev.Job == nil {
		return
	}
	outcome := jobOutcome(ev)
	m.jobs.WithLabelValues(ev.Job.Kind, outcome).Inc()
	if ev.JobStats != nil {
		m.jobDuration.WithLabelValues(ev.Job.Kind, outcome).Observe(ev.JobStats.RunDuration.Seconds())
	}
}

// jobOutcome names how a run ended: a failed run is "retryable" when River
// will try again and "discarded" when it gave up.
func jobOutcome(ev *river.Event) string {
	switch ev.Kind {
	case river.EventKindJobCompleted:
		return "completed"
	case river.EventKindJobCancelled:
		return "cancelled"
	case river.EventKindJobSnoozed:
		return "snoozed"
	case river.EventKindJobFailed:
		if ev.Job.State == rivertype.JobStateDiscarded {
			return "discarded"
		}
		return "retryable"
	}
	return string(ev.Kind)
}
