package pagerpc

import (
	"errors"
	"fmt"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// Error is an error reply: a call that fails with it sends {"code":Code,"message":Message}
// to the client (HTTP 200 with an "error" member), as gnr.Error does in the WASM SDKs.
// Code is [a-z0-9_.], at most 64 bytes.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e Error) Error() string { return e.Code + ": " + e.Message }

// UnknownMethod is the error for an RPC method the handler does not have.
func UnknownMethod(method string) error {
	return Error{Code: "unknown_method", Message: "unknown method: " + method}
}

// BadParams is the error for RPC params the handler cannot use.
func BadParams(message string) error {
	return Error{Code: "bad_params", Message: message}
}

// Reply sets the call's output (HTML for load, JSON for rpc), replacing an earlier one.
func (p *Page) Reply(body []byte) error {
	if len(body) > wasmabi.MaxReplyBytes {
		return fmt.Errorf("pagerpc: reply of %d bytes, over %d: %w", len(body), wasmabi.MaxReplyBytes, abi.ErrTooLarge)
	}
	p.res.Reply = body
	return nil
}

// Error makes the call fail with an error reply {"code","message"} (status 1). A failed
// call changes nothing on the page: its store writes, pushes, publishes and
// subscription changes are dropped.
func (p *Page) Error(code, message string) {
	b, _ := Marshal(Error{Code: code, Message: message}) // cannot fail: two strings
	p.res.Status = wasmabi.StatusError
	p.res.Reply = b
}

// Fail makes the call fail with err as an error reply: an Error as is, anything else as
// code "guest_error" with err's text, as the WASM SDKs do.
func (p *Page) Fail(err error) {
	var e Error
	var pe *Error
	switch {
	case errors.As(err, &e):
	case errors.As(err, &pe) && pe != nil:
		e = *pe
	default:
		e = Error{Code: "guest_error", Message: err.Error()}
	}
	p.Error(e.Code, e.Message)
}

// Result is what the call produced so far, for abi.PageHandler.Call to return. After
// Error it holds only the error reply.
func (p *Page) Result() abi.PageResult {
	if p.res.Status != wasmabi.StatusOK {
		return abi.PageResult{Status: p.res.Status, Reply: p.res.Reply}
	}
	return p.res
}
