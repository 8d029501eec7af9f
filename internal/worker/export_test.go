package worker

// PauseHeartbeat stops the replica's heartbeat and reclaiming while its
// workers go on: what the others see of a paused or cut-off process.
func (q *Queue) PauseHeartbeat() {
	q.stopRun()
	q.running.Wait()
}
