package tasks

import (
	"strconv"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// ClassOf names the kind of work an item's job is, for learning durations: jobs of one
// class take about as long as each other at the service, jobs of different classes may
// not. A song is "song", or "song-separate" when the vocal is separated first (a longer
// job); a training is "train-e" + its number of epochs (time grows with epochs).
//
// What the service's time also depends on and the request does not say (the length of
// a song behind a URL, the amount of training audio) stays inside a class: the estimate
// of a class is a spread, and the poller aims at a high quantile of it.
func ClassOf(kind batch.Kind, spec batch.JobSpec) string {
	if kind == batch.KindTrain {
		epochs := upstream.DefaultTotalEpoch
		if spec.Epochs > 0 {
			epochs = spec.Epochs
		}
		return "train-e" + strconv.Itoa(epochs)
	}
	if spec.Separate {
		return "song-separate"
	}
	return "song"
}

// classOf is the class of an item's job.
func classOf(rec batch.ItemRecord) string { return ClassOf(rec.Kind, rec.Spec) }
