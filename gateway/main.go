// Command seatrush-gateway is a JSON/HTTP gateway in front of SeatRush: grpc-gateway 1.6.4 (as
// Debian bookworm ships it) serving the routes of the google.api.http annotations in
// proto/seatrush/v1/*.proto. .ci/gateway generates the handlers (package seatrushv1) from the
// protos, builds this file against them in GOPATH mode and drives the result with curl.
//
//	seatrush-gateway -listen 127.0.0.1:8080 -backend 127.0.0.1:50051
//
// It prints "gateway listening on <address>" once it accepts connections (port 0: any free port).
//
// Calls to SeatRush go over a pool of connections, each carrying at most -streams-per-connection
// calls at once (SeatRush announces SEATRUSH_MAX_STREAMS_PER_CONNECTION, 256 by default, and
// grpc-go makes any further call wait for a free stream): on one connection, 256 open WatchSeats
// streams would stall every other call through the gateway.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"google.golang.org/grpc"

	// The google.rpc detail types (BadRequest, ErrorInfo, RetryInfo, …) must be linked in:
	// grpc-gateway marshals an error's details as google.protobuf.Any, and an Any of an unknown
	// type fails to marshal, which turns every SeatRush error with details into an HTTP 500.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"

	seatrushv1 "seatrushv1"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "HTTP address to serve JSON on (port 0: any free port)")
	backend := flag.String("backend", "127.0.0.1:50051", "SeatRush gRPC address (plaintext)")
	perConn := flag.Int("streams-per-connection", 256, "calls (WatchSeats streams included) one connection to SeatRush carries at once: at most SeatRush's SEATRUSH_MAX_STREAMS_PER_CONNECTION")
	maxConns := flag.Int("max-connections", 64, "connections to SeatRush at most; when all are full, further calls wait for a free stream")
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	if *perConn < 1 || *maxConns < 1 {
		log.Fatalf("gateway: -streams-per-connection and -max-connections must be at least 1")
	}

	conns := &pool{target: *backend, perConn: *perConn, maxConns: *maxConns,
		options: []grpc.DialOption{grpc.WithInsecure()}}
	// The first connection, dialled now (grpc connects in the background and reconnects by itself).
	first, err := conns.acquire()
	if err != nil {
		log.Fatalf("gateway: dial %s: %v", *backend, err)
	}
	conns.release(first)
	defer conns.close()

	// JSON as proto3's canonical mapping prints it (lowerCamelCase names, as grpcurl shows them);
	// requests may use either the camelCase or the proto field names.
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard,
		&runtime.JSONPb{OrigName: false, EmitDefaults: false}))
	for name, register := range map[string]func(context.Context, *runtime.ServeMux) error{
		"AccountService": func(ctx context.Context, mux *runtime.ServeMux) error {
			return seatrushv1.RegisterAccountServiceHandlerClient(ctx, mux, seatrushv1.NewAccountServiceClient(conns))
		},
		"InventoryService": func(ctx context.Context, mux *runtime.ServeMux) error {
			return seatrushv1.RegisterInventoryServiceHandlerClient(ctx, mux, seatrushv1.NewInventoryServiceClient(conns))
		},
		"BookingService": func(ctx context.Context, mux *runtime.ServeMux) error {
			return seatrushv1.RegisterBookingServiceHandlerClient(ctx, mux, seatrushv1.NewBookingServiceClient(conns))
		},
	} {
		if err := register(ctx, mux); err != nil {
			log.Fatalf("gateway: register %s: %v", name, err)
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("gateway: listen %s: %v", *listen, err)
	}
	fmt.Printf("gateway listening on %s, backend %s\n", ln.Addr(), *backend)

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("gateway: %v", err)
	}
}

// pool is a grpc.ClientConnInterface over several connections to one address: each call goes on
// the connection with the fewest calls in flight, and a new connection is dialled when they all
// carry perConn (up to maxConns).
type pool struct {
	target   string
	options  []grpc.DialOption
	perConn  int
	maxConns int

	mu    sync.Mutex
	conns []*pooled
}

type pooled struct {
	cc       *grpc.ClientConn
	inFlight int
}

func (p *pool) acquire() (*pooled, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *pooled
	for _, c := range p.conns {
		if best == nil || c.inFlight < best.inFlight {
			best = c
		}
	}
	if (best == nil || best.inFlight >= p.perConn) && len(p.conns) < p.maxConns {
		cc, err := grpc.Dial(p.target, p.options...)
		if err != nil && best == nil {
			return nil, err
		}
		if err == nil {
			best = &pooled{cc: cc}
			p.conns = append(p.conns, best)
		}
	}
	best.inFlight++
	return best, nil
}

func (p *pool) release(c *pooled) {
	p.mu.Lock()
	c.inFlight--
	p.mu.Unlock()
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.cc.Close()
	}
}

func (p *pool) Invoke(ctx context.Context, method string, args, reply interface{}, opts ...grpc.CallOption) error {
	c, err := p.acquire()
	if err != nil {
		return err
	}
	defer p.release(c)
	return c.cc.Invoke(ctx, method, args, reply, opts...)
}

// NewStream counts a stream in flight until it ends: an error (io.EOF included) from RecvMsg, or
// its context done (grpc-gateway cancels it when the HTTP request ends).
func (p *pool) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c, err := p.acquire()
	if err != nil {
		return nil, err
	}
	stream, err := c.cc.NewStream(ctx, desc, method, opts...)
	if err != nil {
		p.release(c)
		return nil, err
	}
	var once sync.Once
	done := func() { once.Do(func() { p.release(c) }) }
	go func() {
		<-ctx.Done()
		done()
	}()
	return &tracked{ClientStream: stream, done: done}, nil
}

type tracked struct {
	grpc.ClientStream
	done func()
}

func (t *tracked) RecvMsg(m interface{}) error {
	err := t.ClientStream.RecvMsg(m)
	if err != nil {
		t.done()
	}
	return err
}
