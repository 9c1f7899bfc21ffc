// Package batch holds what a batch is made of: items and their job specs, and the Redis
// records of batches, items and models that workers update and users read. Reading
// manifests into items is batch/manifest's.
package batch

// Kind is what an item asks the service to do.
type Kind string

// Item kinds, as written in manifests.
const (
	KindSong  Kind = "song"  // generate: re-sing a song with a model
	KindTrain Kind = "train" // train: build a model from one voice's recordings
)

// Item is one intended upstream job, read from one manifest line.
type Item struct {
	// ID is the manifest's id, or one derived from the line's content so that
	// re-reading the same line yields the same item.
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Model is the model a song is sung with, or the model a training creates.
	Model string `json:"model"`
	// Spec is the normalized, validated job; the attempt's customId and callback are
	// added when it is sent.
	Spec JobSpec `json:"spec"`
	// Origin is "FILE:LINE" of the manifest line.
	Origin string `json:"origin"`
	// DerivedID: the line had no id, ID was derived from its content.
	DerivedID bool `json:"-"`
}
