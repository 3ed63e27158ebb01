package pipeline_test

import "github.com/election/election/internal/election"

func indexOf(e *election.Election) *election.Index { return election.NewIndex(e) }
