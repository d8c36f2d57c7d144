// Command benchcapture measures the capture front end against the
// redis-server behind it, in one interleaved run (make bench-capture):
//
//   - 48 clients, unpipelined (redis-benchmark -c 48, and go-redis with 48
//     goroutines): a 3-field HSET straight to Redis, through cogs on a
//     watched key (captured), and through cogs on an unwatched key;
//   - 1 client: the p50 latency of each;
//   - 48 clients, 16-deep pipelines (redis-benchmark -P 16): the capture
//     script's EVALSHA sent straight to Redis, against HSET through cogs;
//   - cogs's CPU time per request (utime+stime of the cogs process, from
//     /proc/<pid>/stat, over the requests of a run).
//
// It starts its own redis-server on a free port, and cogs in front of it
// as a child process (this program again, with -serve), so that the CPU
// time read is cogs's alone. Every configuration is run once per round,
// in turn, for -rounds rounds; the report gives the median of the rounds.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/frontend"
	"github.com/cogs-dev/cogs/host/frontend/internal/capturescript"
	goredis "github.com/redis/go-redis/v9"
)

var (
	serve    = flag.Bool("serve", false, "serve the front end (the child process)")
	upstream = flag.String("upstream", "", "with -serve: the redis-server address")
	listen   = flag.String("listen", "", "with -serve: the address to listen on")
	cpuprof  = flag.String("cpuprofile", "", "write cogs's CPU profile to this file")
	only     = flag.String("only", "", "run only the configurations whose name contains this")
	shared   = flag.Int("shared", 0, "with -serve: Config.SharedConns")

	rounds   = flag.Int("rounds", 3, "rounds of every configuration")
	n48      = flag.Int("n", 200000, "requests per redis-benchmark run, 48 clients")
	n1       = flag.Int("n1", 20000, "requests per redis-benchmark run, 1 client")
	nP16     = flag.Int("np", 1000000, "requests per redis-benchmark run, 48 clients, 16-deep pipelines")
	goDur    = flag.Duration("godur", 2*time.Second, "duration of each go-redis run")
	keyspace = flag.Int("keys", 100000, "keys written (redis-benchmark -r)")
)

// watcher watches "w:" as hashes of recipe "bench".
type watcher struct{}

func (watcher) Match(key []byte) (frontend.Watch, bool) {
	if bytes.HasPrefix(key, []byte("w:")) {
		return frontend.Watch{Recipe: "bench", Stream: "cogs:stream:bench", Data: abi.DataHash}, true
	}
	return frontend.Watch{}, false
}

func main() {
	flag.Parse()
	if *serve {
		if err := runServe(); err != nil {
			fmt.Fprintln(os.Stderr, "benchcapture -serve:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchcapture:", err)
		os.Exit(1)
	}
}

func runServe() error {
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	srv, err := frontend.New(frontend.Config{Upstream: *upstream, Watcher: watcher{}, Addr: *listen, SharedConns: *shared})
	if err != nil {
		return err
	}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, os.Interrupt)
		<-c
		srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, frontend.ErrClosed) {
		return err
	}
	return nil
}

func freeAddr() (string, int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, err
	}
	defer l.Close()
	return l.Addr().String(), l.Addr().(*net.TCPAddr).Port, nil
}

// waitPing waits until addr answers PING.
func waitPing(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			c.Write([]byte("PING\r\n"))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && line == "+PONG\r\n" {
				return nil
			}
			err = rerr
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer PING: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// do sends one inline-free command to addr and returns its first line.
func do(addr string, args ...string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(b); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// cpuTicks returns utime+stime of process pid, in clock ticks (1/100 s).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after the name: state is f[0]; utime and stime are fields 14
	// and 15 of the whole line, f[11] and f[12] here.
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return u + st, nil
}

const clkTck = 100

type result struct {
	rps   float64
	p50us float64 // µs
	cpuus float64 // cogs CPU µs per request; 0 for direct
}

type bench struct {
	sha     string
	results map[string][]result
	order   []string
}

func (b *bench) add(name string, r result) {
	if _, ok := b.results[name]; !ok {
		b.order = append(b.order, name)
	}
	b.results[name] = append(b.results[name], r)
	fmt.Fprintf(os.Stderr, "  %-44s %10.0f req/s  p50 %6.1f µs  cogs cpu %5.2f µs/req\n", name, r.rps, r.p50us, r.cpuus)
}

func (b *bench) median(name string) result {
	rs := slices.Clone(b.results[name])
	med := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return result{rps: med(func(r result) float64 { return r.rps }), p50us: med(func(r result) float64 { return r.p50us }),
		cpuus: med(func(r result) float64 { return r.cpuus })}
}

// measureCPU runs f, which makes n requests through the cogs process pid
// (0: none), and returns its result with cogs's CPU time per request.
func measureCPU(pid, n int, f func() (result, error)) (result, error) {
	var t0 int64
	if pid != 0 {
		var err error
		if t0, err = cpuTicks(pid); err != nil {
			return result{}, err
		}
	}
	r, err := f()
	if err != nil || pid == 0 {
		return r, err
	}
	t1, err := cpuTicks(pid)
	if err != nil {
		return r, err
	}
	if n == 0 { // a timed run: f set r.rps over goDur
		n = int(r.rps * goDur.Seconds())
	}
	r.cpuus = float64(t1-t0) / clkTck * 1e6 / float64(n)
	return r, nil
}

// redisBenchmark runs redis-benchmark and returns its rps and p50.
func redisBenchmark(addr string, clients, n, pipeline int, args ...string) (result, error) {
	host, port, _ := net.SplitHostPort(addr)
	argv := []string{"-h", host, "-p", port, "-c", strconv.Itoa(clients), "-n", strconv.Itoa(n),
		"-P", strconv.Itoa(pipeline), "-r", strconv.Itoa(*keyspace), "--csv"}
	out, err := exec.Command("redis-benchmark", append(argv, args...)...).Output()
	if err != nil {
		return result{}, fmt.Errorf("redis-benchmark %q: %w", args, err)
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 2 || len(recs[1]) < 5 {
		return result{}, fmt.Errorf("redis-benchmark output %q: %v", out, err)
	}
	rps, err1 := strconv.ParseFloat(recs[1][1], 64)
	p50, err2 := strconv.ParseFloat(recs[1][4], 64)
	if err1 != nil || err2 != nil {
		return result{}, fmt.Errorf("redis-benchmark output %q", out)
	}
	return result{rps: rps, p50us: p50 * 1000}, nil
}

// goRedis runs 48 goroutines of go-redis HSETs on prefix for goDur.
func goRedis(addr, prefix string, clients int) (result, error) {
	// go-redis's defaults (RESP3: HELLO 3 on every connection) but no
	// CLIENT SETINFO, which would give each client a dedicated upstream
	// connection on the shared front end.
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: clients, MinIdleConns: clients, DisableIdentity: true})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return result{}, err
	}
	var ops atomic.Int64
	var firstErr atomic.Value
	stop := time.Now().Add(*goDur)
	var wg sync.WaitGroup
	for g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := prefix + strconv.Itoa(g)
			n := int64(0)
			for i := 0; ; i++ {
				if i%64 == 0 && time.Now().After(stop) {
					break
				}
				if err := rdb.HSet(ctx, key+":"+strconv.Itoa(i%1000), "a", "1", "b", "2", "c", "3").Err(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					break
				}
				n++
			}
			ops.Add(n)
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return result{}, e.(error)
	}
	return result{rps: float64(ops.Load()) / goDur.Seconds()}, nil
}

func run() error {
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		return errors.New("redis-benchmark not on PATH (it comes with redis-server)")
	}
	dir, err := os.MkdirTemp("", "benchcapture")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	raddr, rport, err := freeAddr()
	if err != nil {
		return err
	}
	rs := exec.Command("redis-server", "--port", strconv.Itoa(rport), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--logfile", "")
	if err := rs.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	defer func() { rs.Process.Kill(); rs.Wait() }()
	if err := waitPing(raddr); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// Two front ends on the same redis-server: one upstream connection
	// per client, and two shared upstream connections.
	var stops []func()
	defer func() {
		for _, f := range stops {
			f()
		}
	}()
	start := func(shared int, prof string) (string, int, error) {
		addr, _, err := freeAddr()
		if err != nil {
			return "", 0, err
		}
		cg := exec.Command(self, "-serve", "-upstream", raddr, "-listen", addr, "-cpuprofile", prof, "-shared", strconv.Itoa(shared))
		cg.Stderr = os.Stderr
		if err := cg.Start(); err != nil {
			return "", 0, err
		}
		stops = append(stops, func() { cg.Process.Signal(syscall.SIGTERM); cg.Wait() })
		return addr, cg.Process.Pid, waitPing(addr)
	}
	caddr, cpid, err := start(0, *cpuprof)
	if err != nil {
		return err
	}
	sprof := ""
	if *cpuprof != "" {
		sprof = *cpuprof + ".shared"
	}
	saddr, spid, err := start(2, sprof)
	if err != nil {
		return err
	}
	h := sha1.Sum([]byte(capturescript.Script))
	b := &bench{sha: hex.EncodeToString(h[:]), results: map[string][]result{}}
	if got, err := do(raddr, "SCRIPT", "LOAD", capturescript.Script); err != nil || !strings.Contains(got, "$40") {
		return fmt.Errorf("SCRIPT LOAD: %q %v", got, err)
	}
	hset := func(prefix string) []string {
		return []string{"HSET", prefix + "__rand_int__", "a", "1", "b", "2", "c", "3"}
	}
	// As cogs sends it for a client that has not selected a database: ""
	// (no SELECT).
	script := append([]string{"EVALSHA", b.sha, "2", "w:__rand_int__", "cogs:stream:bench", "1", "", "always", "hash"}, hset("w:")...)
	trim := func() error {
		_, err := do(raddr, "DEL", "cogs:stream:bench")
		return err
	}

	fmt.Fprintf(os.Stderr, "redis-server %s, cogs %s (pid %d), cogs shared %s (pid %d), GOMAXPROCS %d, %d rounds\n",
		raddr, caddr, cpid, saddr, spid, runtime.GOMAXPROCS(0), *rounds)
	type cfg struct {
		name string
		pid  int // the cogs process, or 0
		n    int
		run  func() (result, error)
	}
	rb := func(addr string, c, n, p int, args []string) func() (result, error) {
		return func() (result, error) { return redisBenchmark(addr, c, n, p, args...) }
	}
	gr := func(addr, prefix string) func() (result, error) {
		return func() (result, error) { return goRedis(addr, prefix, 48) }
	}
	cfgs := []cfg{{"c48 redis-benchmark: direct HSET", 0, *n48, rb(raddr, 48, *n48, 1, hset("h:"))}}
	type front struct {
		name, addr string
		pid        int
	}
	fronts := []front{{"cogs", caddr, cpid}, {"cogs shared", saddr, spid}}
	for _, f := range fronts {
		cfgs = append(cfgs,
			cfg{"c48 redis-benchmark: " + f.name + " HSET watched", f.pid, *n48, rb(f.addr, 48, *n48, 1, hset("w:"))},
			cfg{"c48 redis-benchmark: " + f.name + " HSET unwatched", f.pid, *n48, rb(f.addr, 48, *n48, 1, hset("h:"))})
	}
	cfgs = append(cfgs, cfg{"c48 redis-benchmark: direct capture script (EVALSHA)", 0, *n48, rb(raddr, 48, *n48, 1, script)},
		cfg{"c48 go-redis: direct HSET", 0, 0, gr(raddr, "h:")})
	for _, f := range fronts {
		cfgs = append(cfgs,
			cfg{"c48 go-redis: " + f.name + " HSET watched", f.pid, 0, gr(f.addr, "w:")},
			cfg{"c48 go-redis: " + f.name + " HSET unwatched", f.pid, 0, gr(f.addr, "h:")})
	}
	cfgs = append(cfgs, cfg{"c1: direct HSET", 0, *n1, rb(raddr, 1, *n1, 1, hset("h:"))})
	for _, f := range fronts {
		cfgs = append(cfgs,
			cfg{"c1: " + f.name + " HSET watched", f.pid, *n1, rb(f.addr, 1, *n1, 1, hset("w:"))},
			cfg{"c1: " + f.name + " HSET unwatched", f.pid, *n1, rb(f.addr, 1, *n1, 1, hset("h:"))})
	}
	cfgs = append(cfgs, cfg{"c48 P16: direct HSET", 0, *nP16, rb(raddr, 48, *nP16, 16, hset("h:"))},
		cfg{"c48 P16: direct capture script (EVALSHA)", 0, *nP16, rb(raddr, 48, *nP16, 16, script)})
	for _, f := range fronts {
		cfgs = append(cfgs,
			cfg{"c48 P16: " + f.name + " HSET watched", f.pid, *nP16, rb(f.addr, 48, *nP16, 16, hset("w:"))},
			cfg{"c48 P16: " + f.name + " HSET unwatched", f.pid, *nP16, rb(f.addr, 48, *nP16, 16, hset("h:"))})
	}
	for r := range *rounds {
		fmt.Fprintf(os.Stderr, "round %d\n", r+1)
		for _, c := range cfgs {
			if !strings.Contains(c.name, *only) {
				continue
			}
			if err := trim(); err != nil {
				return err
			}
			res, err := measureCPU(c.pid, c.n, c.run)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			b.add(c.name, res)
		}
	}
	b.report()
	return nil
}

func (b *bench) report() {
	m := b.median
	if *only != "" {
		for _, name := range b.order {
			fmt.Printf("%s: %+v\n", name, m(name))
		}
		return
	}
	fmt.Printf("| configuration (median of %d interleaved rounds) | req/s | p50 µs | cogs CPU µs/req |\n|---|---:|---:|---:|\n", *rounds)
	for _, name := range b.order {
		r := m(name)
		cpu := "—"
		if r.cpuus > 0 {
			cpu = fmt.Sprintf("%.2f", r.cpuus)
		}
		p50 := "—"
		if r.p50us > 0 {
			p50 = fmt.Sprintf("%.0f", r.p50us)
		}
		fmt.Printf("| %s | %.0f | %s | %s |\n", name, r.rps, p50, cpu)
	}
	pct := func(a, b float64) string { return fmt.Sprintf("%.0f%%", 100*a/b) }
	fmt.Println()
	fmt.Println("| target | cogs | cogs shared | goal |\n|---|---:|---:|---:|")
	row := func(what, goal string, f func(string) string) {
		fmt.Printf("| %s | %s | %s | %s |\n", what, f("cogs"), f("cogs shared"), goal)
	}
	row("c48 redis-benchmark: watched / direct HSET", "≥ 70%", func(f string) string {
		return pct(m("c48 redis-benchmark: "+f+" HSET watched").rps, m("c48 redis-benchmark: direct HSET").rps)
	})
	row("c48 redis-benchmark: unwatched / direct HSET", "≥ 70%", func(f string) string {
		return pct(m("c48 redis-benchmark: "+f+" HSET unwatched").rps, m("c48 redis-benchmark: direct HSET").rps)
	})
	row("c48 redis-benchmark: watched / direct capture script", "", func(f string) string {
		return pct(m("c48 redis-benchmark: "+f+" HSET watched").rps, m("c48 redis-benchmark: direct capture script (EVALSHA)").rps)
	})
	row("c48 go-redis: watched / direct HSET", "≥ 70%", func(f string) string {
		return pct(m("c48 go-redis: "+f+" HSET watched").rps, m("c48 go-redis: direct HSET").rps)
	})
	row("c48 go-redis: unwatched / direct HSET", "≥ 70%", func(f string) string {
		return pct(m("c48 go-redis: "+f+" HSET unwatched").rps, m("c48 go-redis: direct HSET").rps)
	})
	row("c1: added p50, watched / unwatched", "≤ 40 µs", func(f string) string {
		d := m("c1: direct HSET").p50us
		return fmt.Sprintf("%.0f / %.0f µs", m("c1: "+f+" HSET watched").p50us-d, m("c1: "+f+" HSET unwatched").p50us-d)
	})
	row("P16: watched / direct capture script", "≥ 80%", func(f string) string {
		return pct(m("c48 P16: "+f+" HSET watched").rps, m("c48 P16: direct capture script (EVALSHA)").rps)
	})
	row("cogs CPU per request, c48 unpipelined, watched / unwatched", "≤ 6 µs", func(f string) string {
		return fmt.Sprintf("%.1f / %.1f µs", m("c48 redis-benchmark: "+f+" HSET watched").cpuus, m("c48 redis-benchmark: "+f+" HSET unwatched").cpuus)
	})
	row("cogs CPU per request, c48 P16, watched / unwatched", "≤ 1 µs", func(f string) string {
		return fmt.Sprintf("%.2f / %.2f µs", m("c48 P16: "+f+" HSET watched").cpuus, m("c48 P16: "+f+" HSET unwatched").cpuus)
	})

}
