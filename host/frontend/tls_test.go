package frontend

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// to dir, and returns their paths and a pool holding the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cogs test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestIntegrationTLS: with Config.TLS, every upstream connection (clients'
// and the stream poller's) is a TLS connection to redis-server's TLS port,
// which requires client certificates; a certificate the front end does not
// trust makes Serve fail.
func TestIntegrationTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr := l.Addr().String()
	l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	up := redistest.Start(t, "--tls-port", port, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", certFile, "--tls-auth-clients", "yes")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: "127.0.0.1"}

	w := prefixWatcher{
		"w:": testWatcher["w:"],
		"b:": {Recipe: "b", Stream: "cogs:stream:b", Data: abi.DataHash, HighWater: 1},
	}
	addr := startFrontend(t, Config{Upstream: tlsAddr, TLS: cfg, Watcher: w, PollInterval: 5 * time.Millisecond})
	c := dialRC(t, addr)
	// The poller reads the stream length over TLS too.
	for deadline := time.Now().Add(5 * time.Second); ; {
		got := c.do("HSET", "b:1", "f", "v")
		if strings.HasPrefix(got, "-COGSBACKPRESSURE") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no backpressure over TLS: %s", show([]byte(got)))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := c.do("HSET", "w:tls", "f", "v"); got != ":1\r\n" {
		t.Errorf("HSET through TLS: %s", show([]byte(got)))
	}
	if got := c.do("CLIENT", "INFO"); !strings.Contains(got, "laddr="+tlsAddr) {
		t.Errorf("the upstream connection is not on the TLS port: %s", show([]byte(got)))
	}
	if got := entries(t, up.Addr, "cogs:stream:r"); len(got) != 1 {
		t.Errorf("entries: %q", got)
	}
	big := strings.Repeat("x", 3<<20)
	c.do("SET", "big", big)
	if got := c.do("GET", "big"); got != "$"+strconv.Itoa(len(big))+"\r\n"+big+"\r\n" {
		t.Errorf("a 3 MiB value through TLS: %d bytes", len(got))
	}

	// Not trusted, or no client certificate: Serve fails saying why.
	for _, bad := range []*tls.Config{
		{ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair}},
		{ServerName: "127.0.0.1", RootCAs: pool},
	} {
		srv, err := New(Config{Upstream: tlsAddr, TLS: bad})
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(l); err == nil || !strings.HasPrefix(err.Error(), "frontend: upstream "+tlsAddr+": ") {
			t.Errorf("Serve with a bad TLS config: %v", err)
		}
		srv.Close()
	}
	// Plain TCP to the TLS port fails too.
	srv, _ := New(Config{Upstream: tlsAddr, DialTimeout: time.Second})
	l, _ = net.Listen("tcp", "127.0.0.1:0")
	if err := srv.Serve(l); err == nil {
		t.Errorf("Serve without TLS to a TLS port succeeded")
	}
	srv.Close()
}
