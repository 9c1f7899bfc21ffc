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

// AllModels walks every page of MaxListLimit models. It stops on a short page or once
// total models came back; a service that keeps sending full pages past maxModelPages,
// or sends the same page again, is an error rather than an endless loop.
func (c *Client) AllModels(ctx context.Context) ([]Model, error) {
	var all []Model
	prevFirst := ""
	for page := 0; page < maxModelPages; page++ {
		resp, err := c.ListModels(ctx, len(all), MaxListLimit)
		if err != nil {
			return nil, fmt.Errorf("all models, offset %d: %w", len(all), err)
		}
		if len(resp.Models) > 0 {
			if page > 0 && resp.Models[0].Name == prevFirst {
				return nil, fmt.Errorf("all models, offset %d: the service sent the previous page again", len(all))
			}
			prevFirst = resp.Models[0].Name
		}
		all = append(all, resp.Models...)
		if len(resp.Models) < MaxListLimit || (resp.Total > 0 && len(all) >= resp.Total) {
			if all == nil {
				all = []Model{}
			}
			return all, nil
		}
	}
	return nil, fmt.Errorf("all models: still full pages after %d models; giving up", len(all))
}
