package web

// Routes lists the API's routes as registered ("METHOD /path"), for the OpenAPI document's test.
func (s *Server) Routes() []string { return s.routes }
