package server

import "github.com/cairnhq/cairn/server/eventbus"

// EventBus returns the server's in-process bus, so that tests wait on events instead of sleeping.
func (s *Server) EventBus() *eventbus.Bus { return s.bus }
