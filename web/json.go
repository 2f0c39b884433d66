package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/gin-gonic/gin"
)

// decodeJSON reads one JSON object into v, rejecting unknown fields and
// trailing data, with a message that names the problem.
func decodeJSON(c *gin.Context, v any) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return errors.New("empty body: send a JSON object")
		case errors.As(err, &te):
			return fmt.Errorf("field %q has the wrong type (want %s)", te.Field, te.Type)
		}
		return fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return errors.New("invalid JSON: more than one object")
	}
	return nil
}
