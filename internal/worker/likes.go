package worker

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// LikeFolder folds likes not yet in their wallpaper's count
// (postgres.Gallery.FoldLikes): up to limit wallpapers a call, returning
// how many it folded. Counts are exact with or without it; folding keeps
// the delta rows few.
type LikeFolder interface {
	FoldLikes(ctx context.Context, limit int) (int, error)
}

// FoldLikesInterval is how often the likes are folded: a viral
// wallpaper's count is its folded count plus at most 16 delta rows
// whatever the interval, so it only bounds how long rows wait.
const FoldLikesInterval = 10 * time.Second

// foldBatch bounds the wallpapers of one fold statement.
const foldBatch = 1000

// FoldLikesArgs are the (empty) arguments of the periodic fold.
type FoldLikesArgs struct{}

// Kind implements river.JobArgs.
func (FoldLikesArgs) Kind() string { return "fold_likes" }

type foldLikesWorker struct {
	river.WorkerDefaults[FoldLikesArgs]
	folder LikeFolder
}

// Work folds batch after batch until one is not full.
func (w *foldLikesWorker) Work(ctx context.Context, _ *river.Job[FoldLikesArgs]) error {
	for {
		n, err := w.folder.FoldLikes(ctx, foldBatch)
		if err != nil || n < foldBatch {
			return err
		}
	}
}

// addFoldLikes registers the fold and its schedule when d has a folder.
func addFoldLikes(workers *river.Workers, periodic []*river.PeriodicJob, d Deps) ([]*river.PeriodicJob, error) {
	if d.Likes == nil {
		return periodic, nil
	}
	if err := river.AddWorkerSafely(workers, &foldLikesWorker{folder: d.Likes}); err != nil {
		return nil, err
	}
	return append(periodic, river.NewPeriodicJob(river.PeriodicInterval(FoldLikesInterval),
		func() (river.JobArgs, *river.InsertOpts) { return FoldLikesArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})), nil
}
