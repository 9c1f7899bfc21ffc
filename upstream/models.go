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
// total that overstates), and a service that keeps sending pages past maxModelPages,
// or sends the same page again, is an error rather than an endless loop: ErrTransient,
// as any unusable reply of a read-only call.
func (c *Client) AllModels(ctx context.Context) ([]Model, error) {
	all := []Model{}
	prevFirst := ""
	for page := 0; page < maxModelPages; page++ {
		resp, err := c.ListModels(ctx, len(all), MaxListLimit)
		if err != nil {
			return nil, fmt.Errorf("all models, offset %d: %w", len(all), err)
		}
		if len(resp.Models) == 0 {
			return all, nil
		}
		if page > 0 && resp.Models[0].Name == prevFirst {
			return nil, fmt.Errorf("all models, offset %d: the service sent the previous page again: %w", len(all), ErrTransient)
		}
		prevFirst = resp.Models[0].Name
		all = append(all, resp.Models...)
		if resp.Total > 0 && len(all) >= resp.Total {
			return all, nil
		}
	}
	return nil, fmt.Errorf("all models: still more after %d models; giving up: %w", len(all), ErrTransient)
}
