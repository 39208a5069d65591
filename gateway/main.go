// Command seatrush-gateway is a JSON/HTTP gateway in front of SeatRush: grpc-gateway 1.6.4 (as
// Debian bookworm ships it) serving the routes of the google.api.http annotations in
// proto/seatrush/v1/*.proto. .ci/gateway generates the handlers (package seatrushv1) from the
// protos, builds this file against them in GOPATH mode and drives the result with curl.
//
//	seatrush-gateway -listen 127.0.0.1:8080 -backend 127.0.0.1:50051
//
// It prints "gateway listening on <address>" once it accepts connections (port 0: any free port).
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
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	// One connection for the three services; grpc dials lazily and reconnects by itself.
	conn, err := grpc.Dial(*backend, grpc.WithInsecure())
	if err != nil {
		log.Fatalf("gateway: dial %s: %v", *backend, err)
	}
	defer conn.Close()

	// JSON as proto3's canonical mapping prints it (lowerCamelCase names, as grpcurl shows them);
	// requests may use either the camelCase or the proto field names.
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard,
		&runtime.JSONPb{OrigName: false, EmitDefaults: false}))
	for name, register := range map[string]func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		"AccountService":   seatrushv1.RegisterAccountServiceHandler,
		"InventoryService": seatrushv1.RegisterInventoryServiceHandler,
		"BookingService":   seatrushv1.RegisterBookingServiceHandler,
	} {
		if err := register(ctx, mux, conn); err != nil {
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
