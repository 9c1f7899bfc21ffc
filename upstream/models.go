package upstream

import (
	"context"
	"fmt"
)

// maxModelPages bounds AllModels against a service that never says it is done.
const maxModelPages = 1000

// ListModels returns one page of models.
func (c *Client) ListModels(ctx context.Context, offset, limit int) (*ListModelsResponse, error) {
	req := &ListModelsRequest{Offset: offset, Limit: limit, Type: ModelListType}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", ActionListModels, err)
	}
	resp, err := c.call(ctx, &spec{
		action: ActionListModels,
		fill:   func(e *Envelope) { e.ListModelsRequest = req },
		retry:  true,
		check: func(r *Response) string {
			if r.ListModelsResponse == nil {
				return "reply has no listModelsResponse"
			}
			return ""
		},
	})
	if err != nil {
		return nil, err
	}
	return resp.ListModelsResponse, nil
}

// AllModels walks the pages of models until it has total of them, or, when the service
// gives no total, until a page comes back empty. A short page proves nothing: a service
// may cap its pages below the limit asked for. An empty page always ends the walk (a
// total that overstates). A service that keeps sending pages past maxModelPages, or
// more than maxModelPages × MaxListLimit models, or sends a page it sent before (its
// first model seen first on an earlier page), is an error rather than an endless loop
// or an unbounded list: ErrTransient, as any unusable reply of a read-only call.
func (c *Client) AllModels(ctx context.Context) ([]Model, error) {
	all := []Model{}
	firsts := map[string]bool{} // each page's first model
	for range maxModelPages {
		resp, err := c.ListModels(ctx, len(all), MaxListLimit)
		if err != nil {
			return nil, fmt.Errorf("all models, offset %d: %w", len(all), err)
		}
		if len(resp.Models) == 0 {
			return all, nil
		}
		if first := resp.Models[0].Name; firsts[first] {
			return nil, fmt.Errorf("all models, offset %d: the service sent an earlier page again: %w", len(all), ErrTransient)
		} else {
			firsts[first] = true
		}
		all = append(all, resp.Models...)
		if resp.Total > 0 && len(all) >= int(resp.Total) {
			return all, nil
		}
		if len(all) > maxModelPages*MaxListLimit {
			return nil, fmt.Errorf("all models: more than %d; giving up: %w", maxModelPages*MaxListLimit, ErrTransient)
		}
	}
	return nil, fmt.Errorf("all models: still more after %d models; giving up: %w", len(all), ErrTransient)
}
