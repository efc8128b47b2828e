package httpapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
)

// Restore returns the halley.Restorer of a cluster whose buses and
// notifiers with hooks are created through this API: it makes them again
// on a node that a client asks for one made on another node, with the
// same filter_url or prepare_url, calling them through h. Set it as the
// hub's Config.Restore.
func Restore(h hooks.Options) halley.Restorer {
	return func(ctx context.Context, hub *halley.Hub, kind, name string, spec []byte) error {
		switch kind {
		case "bus":
			var req busRequest
			if err := json.Unmarshal(spec, &req); err != nil || req.Name != name {
				return fmt.Errorf("restore bus %q: %w: bad spec", name, halley.ErrInvalidOptions)
			}
			scope, err := halley.ParseBusScope(req.Scope)
			if err != nil {
				return err
			}
			opts := halley.BusOptions{Name: name, Scope: scope, Size: req.Size, Public: req.Public, Declare: true, Spec: spec}
			if req.FilterURL != "" {
				opts.Filter = hooks.Filter(name, req.FilterURL, h)
			}
			_, err = hub.NewBus(ctx, opts)
			return err
		case "notifier":
			var req notifierRequest
			if err := json.Unmarshal(spec, &req); err != nil || req.Name != name {
				return fmt.Errorf("restore notifier %q: %w: bad spec", name, halley.ErrInvalidOptions)
			}
			opts := halley.NotifierOptions[string, json.RawMessage, json.RawMessage]{Name: name, Public: req.Public, Declare: true, Spec: spec}
			switch {
			case req.PrepareURL != "" && req.PrepareBatch:
				opts.PrepareBatch = hooks.PrepareBatch(name, req.PrepareURL, h)
				opts.Concurrency = hooks.Concurrency
			case req.PrepareURL != "":
				opts.Prepare = hooks.Prepare(name, req.PrepareURL, h)
				opts.Concurrency = hooks.Concurrency
			}
			_, err := halley.NewNotifier(hub, opts)
			return err
		}
		return fmt.Errorf("restore %s %q: %w", kind, name, halley.ErrInvalidOptions)
	}
}
