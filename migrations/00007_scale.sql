-- Hot likes: a like no longer locks and updates its wallpaper's row. The likes table
-- is the truth; a wallpaper's count is wallpapers.like_count (folded) plus
-- the sum of its rows here (not yet folded). A like or an unlike changes
-- its likes row and adds +1 or -1 to one of the wallpaper's 16 stripes in
-- the same statement, so in every committed state, for every wallpaper,
-- like_count + sum(n) = count(likes). The stripe is a function of the user
-- (postgres.likeStripe), so concurrent likers of one wallpaper mostly lock
-- different rows, and a user's like and unlike always meet in one stripe:
-- folding any subset of stripes never takes like_count below zero. A
-- periodic job folds the stripes into like_count and deletes them
-- (postgres.Gallery.FoldLikes). Changing the number of stripes needs a
-- migration that folds everything first.

-- +goose Up
CREATE TABLE like_deltas (
    wallpaper_id  uuid NOT NULL REFERENCES wallpapers (id) ON DELETE CASCADE,
    stripe        smallint NOT NULL CHECK (stripe >= 0 AND stripe < 16),
    n             integer NOT NULL,
    PRIMARY KEY (wallpaper_id, stripe)
);

-- +goose Down
UPDATE wallpapers w SET like_count = w.like_count + d.n
    FROM (SELECT wallpaper_id, sum(n) AS n FROM like_deltas GROUP BY wallpaper_id) d
    WHERE w.id = d.wallpaper_id;
DROP TABLE like_deltas;
