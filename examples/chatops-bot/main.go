// Command chatops-bot announces Cairn approvals and releases in a chat and
// lets people decide approvals and deploy from it.
//
// It follows the approvalEvents and releaseEvents subscriptions over
// graphql-transport-ws and posts one readable line per event to a
// Slack-compatible incoming webhook (--slack-url) or to stdout. It reads
// commands from stdin (as --stdin-user) or from an HTTP endpoint (--listen;
// POST form user=<chat id>&text=<command>, the shape of a Slack slash
// command):
//
//	approve <approval id> [comment]
//	reject <approval id> [comment]
//	resume <intervention id> [comment]   (a manual intervention)
//	stop <intervention id> [comment]     (reject a manual intervention)
//	deploy <release id> <environment>
//	status <definition name>
//
// and runs them with onBehalfOf "<provider>:<chat id>" (e.g. slack:U123), so
// that Cairn judges each by the rights of the person who typed it. Its token
// therefore needs the act-as scope, which only an ADMIN grants; the person
// needs that chat identity among their externalIdentities.
//
// It uses only the standard library and github.com/coder/websocket, so it
// can be copied out of the repository as a starting point.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// config is what the bot needs; main fills it from flags and environment.
type config struct {
	// Server is Cairn's base URL, e.g. https://cairn.example.com.
	Server string
	// Token is the bot's API token (with the act-as scope).
	Token string
	// SlackURL is the incoming webhook that receives {"text": …}; empty:
	// messages go to Out.
	SlackURL string
	// Listen is the address of the command endpoint; empty: none.
	Listen string
	// CommandToken, if set, must be sent as the form field token with
	// every HTTP command (Slack's verification token).
	CommandToken string
	// Provider prefixes chat ids: onBehalfOf is Provider + ":" + user.
	Provider string
	// After is the sequence after which the first subscriptions start: a
	// negative value (the default of main) announces only what happens
	// from now; 0 replays what the server still keeps.
	After int64
	// StdinUser is the chat id that commands read from In act for; empty:
	// In is not read.
	StdinUser string
	In        io.Reader
	// Out receives messages (without SlackURL) and command replies from In.
	Out io.Writer
	// Log receives the bot's own troubles (connection lost, post failed).
	Log io.Writer
	// HTTP is the client for GraphQL and Slack; http.DefaultClient if nil.
	HTTP *http.Client

	// onListen, for tests, learns the command endpoint's address.
	onListen func(addr string)
}

func main() {
	var cfg config
	flag.StringVar(&cfg.Server, "server", "http://localhost:8080", "Cairn base URL")
	flag.StringVar(&cfg.SlackURL, "slack-url", "", "Slack-compatible incoming webhook URL (default: print to stdout)")
	flag.StringVar(&cfg.Listen, "listen", "", "address for slash commands, e.g. :8090 (POST user=<chat id>&text=<command>)")
	flag.StringVar(&cfg.Provider, "provider", "slack", "chat identity provider: onBehalfOf is <provider>:<chat id>")
	flag.StringVar(&cfg.StdinUser, "stdin-user", "", "read commands from stdin as this chat user id")
	flag.Int64Var(&cfg.After, "after-sequence", -1, "announce the events after this sequence first (-1: only new ones)")
	flag.Parse()
	cfg.Token = os.Getenv("CAIRN_TOKEN")
	cfg.CommandToken = os.Getenv("CHATOPS_COMMAND_TOKEN")
	cfg.In, cfg.Out, cfg.Log = os.Stdin, os.Stdout, os.Stderr
	if cfg.Token == "" {
		fmt.Fprintln(os.Stderr, "chatops-bot: set CAIRN_TOKEN to an API token with the act-as scope")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "chatops-bot:", err)
		os.Exit(1)
	}
}

// bot is a running bot.
type bot struct {
	cfg  config
	http *http.Client
	mu   sync.Mutex // serialises writes to Out and Log
}

// errForbidden ends the bot: Cairn closed a stream with 4403 (the token is
// unknown, revoked or expired), and retrying cannot help.
var errForbidden = errors.New("the server refused the bot's token (revoked or expired?)")

// run runs the bot until ctx ends or its token is refused.
func run(ctx context.Context, cfg config) error {
	cfg.Server = strings.TrimRight(cfg.Server, "/")
	if cfg.Provider == "" {
		cfg.Provider = "slack"
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	b := &bot{cfg: cfg, http: cfg.HTTP}
	if b.http == nil {
		b.http = http.DefaultClient
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	start := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	for _, s := range []struct{ field, query string }{
		{"approvalEvents", approvalEventsQuery}, {"releaseEvents", releaseEventsQuery},
	} {
		start(func() {
			if err := b.follow(ctx, s.field, s.query); err != nil {
				cancel(err)
			}
		})
	}
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			cancel(nil)
			wg.Wait()
			return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
		}
		if cfg.onListen != nil {
			cfg.onListen(ln.Addr().String())
		}
		srv := &http.Server{Handler: b.commandHandler(ctx), ReadHeaderTimeout: 10 * time.Second}
		start(func() { _ = srv.Serve(ln) })
		start(func() {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			_ = srv.Shutdown(sctx)
		})
	}
	if cfg.StdinUser != "" && cfg.In != nil {
		// Not in the wait group: a read from stdin cannot be interrupted.
		go b.readCommands(ctx, cfg.In)
	}
	<-ctx.Done()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (b *bot) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.cfg.Log, format+"\n", args...)
}

// ---- Announcing events ----

const approvalEventsQuery = `subscription($after: Int64) { approvalEvents(afterSequence: $after) {
  __typename
  ... on CairnEvent { sequence actor }
  ... on ApprovalPendingEvent { approvalId environment stage deadline approvers { kind name }
    release { id name definition { name } } changes { commits { sha } workItems { externalID title } } }
  ... on ApprovalDecidedEvent { approvalId environment status release { name definition { name } } }
  ... on ApprovalTimedOutEvent { approvalId environment release { name definition { name } } }
  ... on ApprovalReassignedEvent { approvalId environment release { name definition { name } } }
} }`

const releaseEventsQuery = `subscription($after: Int64) { releaseEvents(afterSequence: $after) {
  __typename
  ... on CairnEvent { sequence actor }
  ... on ReleaseCreatedEvent { releaseId name release { definition { name } } }
  ... on ReleaseAbandonedEvent { releaseId release { name definition { name } } }
  ... on DeploymentFinishedEvent { environment status statusReason release { id name definition { name } } }
  ... on JobLostEvent { environment deploymentId }
  ... on ManualInterventionPendingEvent { interventionId environment task instructions approvers timeoutAt onTimeout
    release { name definition { name } } }
  ... on ManualInterventionDecidedEvent { interventionId environment task status comment timedOut
    release { name definition { name } } }
} }`

// follow keeps one subscription open: it reconnects with backoff and resumes
// after the last sequence it announced, so nothing is announced twice or
// missed. It returns errForbidden when the server refuses the token.
func (b *bot) follow(ctx context.Context, field, query string) error {
	var after *int64 // nil: live events only
	if b.cfg.After >= 0 {
		first := b.cfg.After
		after = &first
	}
	backoff := time.Second
	for {
		err := b.stream(ctx, field, query, after, func(ev map[string]any) {
			if f, ok := ev["sequence"].(float64); ok {
				seq := int64(f)
				after = &seq
			}
			if msg := describeEvent(ev); msg != "" {
				b.post(ctx, msg)
			}
			backoff = time.Second
		})
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errForbidden) {
			return err
		}
		b.logf("%s: %v; reconnecting in %s", field, err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// stream runs one graphql-transport-ws connection with one subscription.
func (b *bot) stream(ctx context.Context, field, query string, after *int64, handle func(map[string]any)) error {
	url := "ws" + strings.TrimPrefix(b.cfg.Server, "http") + "/graphql"
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: b.http,
	})
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", url, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(4 << 20)
	write := func(m wsMessage) error {
		data, _ := json.Marshal(m)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, data)
	}
	init, _ := json.Marshal(map[string]string{"authorization": "Bearer " + b.cfg.Token})
	if err := write(wsMessage{Type: "connection_init", Payload: init}); err != nil {
		return err
	}
	sub, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"after": after}})
	subscribed := false
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == 4403 {
				return errForbidden
			}
			return err
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("decoding a message: %w", err)
		}
		switch m.Type {
		case "connection_ack":
			if !subscribed {
				subscribed = true
				if err := write(wsMessage{ID: "1", Type: "subscribe", Payload: sub}); err != nil {
					return err
				}
			}
		case "ping":
			if err := write(wsMessage{Type: "pong"}); err != nil {
				return err
			}
		case "next":
			var p struct {
				Data   map[string]map[string]any `json:"data"`
				Errors []gqlError                `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				return fmt.Errorf("decoding an event: %w", err)
			}
			if len(p.Errors) > 0 {
				return fmt.Errorf("subscription failed: %s", p.Errors[0])
			}
			if ev := p.Data[field]; ev != nil {
				handle(ev)
			}
		case "error":
			return fmt.Errorf("subscription refused: %s", m.Payload)
		case "complete":
			return errors.New("the server ended the subscription")
		}
	}
}

// describeEvent is the chat line of an event; "" for events not announced.
func describeEvent(ev map[string]any) string {
	str := func(keys ...string) string {
		var v any = ev
		for _, k := range keys {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		s, _ := v.(string)
		return s
	}
	where := func() string {
		s := str("release", "definition", "name") + " / " + str("release", "name")
		if env := str("environment"); env != "" {
			s += " → " + env
		}
		return s
	}
	switch ev["__typename"] {
	case "ApprovalPendingEvent", "ApprovalDecidedEvent", "ApprovalTimedOutEvent", "ApprovalReassignedEvent":
		if str("approvalId") == "" {
			return "" // the release stream's copy: the approval stream announces it
		}
	}
	switch ev["__typename"] {
	case "ApprovalPendingEvent":
		var approvers []string
		if list, ok := ev["approvers"].([]any); ok {
			for _, a := range list {
				m, _ := a.(map[string]any)
				name, _ := m["name"].(string)
				if m["kind"] == "GROUP" {
					name = "group " + name
				}
				approvers = append(approvers, name)
			}
		}
		msg := fmt.Sprintf("Approval %s pending: %s (%s-deployment), approvers: %s.",
			str("approvalId"), where(), strings.ToLower(str("stage")), strings.Join(approvers, ", "))
		if changes, ok := ev["changes"].(map[string]any); ok {
			commits, _ := changes["commits"].([]any)
			items, _ := changes["workItems"].([]any)
			msg += fmt.Sprintf(" Brings %d commit(s)", len(commits))
			var titles []string
			for _, w := range items {
				m, _ := w.(map[string]any)
				titles = append(titles, fmt.Sprintf("%v %v", m["externalID"], m["title"]))
			}
			if len(titles) > 0 {
				msg += " and " + strings.Join(titles, "; ")
			}
			msg += "."
		}
		if d := str("deadline"); d != "" {
			msg += " Times out at " + d + "."
		}
		return msg + fmt.Sprintf(" Reply: approve %s [comment] | reject %s [comment]", str("approvalId"), str("approvalId"))
	case "ApprovalDecidedEvent":
		return fmt.Sprintf("Approval %s %s by %s: %s.", str("approvalId"), strings.ToLower(str("status")), str("actor"), where())
	case "ApprovalTimedOutEvent":
		return fmt.Sprintf("Approval %s timed out: %s.", str("approvalId"), where())
	case "ApprovalReassignedEvent":
		return fmt.Sprintf("Approval %s reassigned by %s: %s.", str("approvalId"), str("actor"), where())
	case "ReleaseCreatedEvent":
		return fmt.Sprintf("Release %s of %s created by %s (id %s).", str("name"), str("release", "definition", "name"), str("actor"), str("releaseId"))
	case "ReleaseAbandonedEvent":
		return fmt.Sprintf("Release %s of %s abandoned by %s.", str("release", "name"), str("release", "definition", "name"), str("actor"))
	case "DeploymentFinishedEvent":
		msg := fmt.Sprintf("Deployment %s: %s.", where(), str("status"))
		if r := str("statusReason"); r != "" {
			msg += " " + r
		}
		return msg
	case "ManualInterventionPendingEvent":
		id := str("interventionId")
		msg := fmt.Sprintf("Manual intervention %s (%s) waits: %s.", id, str("task"), where())
		if in := strings.TrimSpace(str("instructions")); in != "" {
			msg += " " + strings.TrimRight(in, ".") + "."
		}
		if a := str("approvers"); a != "" {
			msg += " For: " + a + "."
		}
		if d := str("timeoutAt"); d != "" {
			then := "rejected"
			if str("onTimeout") == "RESUME" {
				then = "resumed"
			}
			msg += fmt.Sprintf(" At %s it is %s.", d, then)
		}
		return msg + fmt.Sprintf(" Reply: resume %s [comment] | stop %s [comment]", id, id)
	case "ManualInterventionDecidedEvent":
		by := "by " + str("actor")
		if ev["timedOut"] == true {
			by = "on timeout"
		}
		msg := fmt.Sprintf("Manual intervention %s (%s) %s %s: %s.", str("interventionId"), str("task"),
			strings.ToLower(str("status")), by, where())
		if c := str("comment"); c != "" {
			msg += " " + c
		}
		return msg
	case "JobLostEvent":
		return fmt.Sprintf("The agent running deployment %s to %s was lost; the deployment failed.", str("deploymentId"), str("environment"))
	}
	return ""
}

// post sends a message to the chat, or prints it.
func (b *bot) post(ctx context.Context, msg string) {
	if b.cfg.SlackURL == "" {
		b.mu.Lock()
		fmt.Fprintln(b.cfg.Out, msg)
		b.mu.Unlock()
		return
	}
	body, _ := json.Marshal(map[string]string{"text": msg})
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodPost, b.cfg.SlackURL, bytes.NewReader(body))
	if err != nil {
		b.logf("posting to the chat: %v", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		b.logf("posting to the chat: %v", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b.logf("posting to the chat: HTTP %d", resp.StatusCode)
	}
}

// ---- Commands ----

// readCommands runs each line of in as a command of StdinUser.
func (b *bot) readCommands(ctx context.Context, in io.Reader) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if ctx.Err() != nil {
			return
		}
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		reply := b.command(ctx, b.cfg.StdinUser, sc.Text())
		b.mu.Lock()
		fmt.Fprintln(b.cfg.Out, reply)
		b.mu.Unlock()
	}
}

// commandHandler serves slash commands: POST form user (or user_id, as
// Slack sends it) and text; the reply is the response body.
func (b *bot) commandHandler(ctx context.Context) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a form: user=<chat id>&text=<command>", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed form: "+err.Error(), http.StatusBadRequest)
			return
		}
		if t := b.cfg.CommandToken; t != "" && subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(t)) != 1 {
			http.Error(w, "wrong token", http.StatusUnauthorized)
			return
		}
		user := r.PostForm.Get("user")
		if user == "" {
			user = r.PostForm.Get("user_id")
		}
		if user == "" {
			http.Error(w, "missing user", http.StatusBadRequest)
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, b.command(cctx, user, r.PostForm.Get("text")))
	})
}

const usage = "commands: approve <approval id> [comment] | reject <approval id> [comment] | resume <intervention id> [comment] | stop <intervention id> [comment] | deploy <release id> <environment> | status <definition>"

// command runs one command for chat user and returns the reply.
func (b *bot) command(ctx context.Context, user, text string) string {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return usage
	}
	who := b.cfg.Provider + ":" + user
	rest := func(i int) string {
		if len(fields) <= i {
			return ""
		}
		return strings.Join(fields[i:], " ")
	}
	switch strings.ToLower(fields[0]) {
	case "approve", "reject":
		if len(fields) < 2 {
			return "usage: " + fields[0] + " <approval id> [comment]"
		}
		verb := strings.ToLower(fields[0])
		var out struct {
			Decision struct {
				Status string `json:"status"`
			} `json:"decision"`
		}
		err := b.graphql(ctx, fmt.Sprintf(`mutation($a: ID!, $c: String, $who: String) {
		  decision: %s(input: {approvalId: $a, comment: $c}, onBehalfOf: $who) { status } }`, verb),
			map[string]any{"a": fields[1], "c": rest(2), "who": who}, &out)
		if err != nil {
			return fmt.Sprintf("Could not %s approval %s: %v", verb, fields[1], err)
		}
		return fmt.Sprintf("Approval %s is now %s.", fields[1], out.Decision.Status)
	case "resume", "stop":
		if len(fields) < 2 {
			return "usage: " + fields[0] + " <intervention id> [comment]"
		}
		field := map[string]string{"resume": "resumeManualIntervention", "stop": "rejectManualIntervention"}[strings.ToLower(fields[0])]
		var out struct {
			Decision struct {
				Status string `json:"status"`
			} `json:"decision"`
		}
		err := b.graphql(ctx, fmt.Sprintf(`mutation($i: ID!, $c: String, $who: String) {
		  decision: %s(id: $i, comment: $c, onBehalfOf: $who) { status } }`, field),
			map[string]any{"i": fields[1], "c": rest(2), "who": who}, &out)
		if err != nil {
			return fmt.Sprintf("Could not %s manual intervention %s: %v", strings.ToLower(fields[0]), fields[1], err)
		}
		return fmt.Sprintf("Manual intervention %s is now %s.", fields[1], out.Decision.Status)
	case "deploy":
		if len(fields) != 3 {
			return "usage: deploy <release id> <environment>"
		}
		var out struct {
			Deploy struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"deployEnvironment"`
		}
		err := b.graphql(ctx, `mutation($r: ID!, $e: String!, $who: String) {
		  deployEnvironment(input: {releaseId: $r, environment: $e}, onBehalfOf: $who) { id status } }`,
			map[string]any{"r": fields[1], "e": fields[2], "who": who}, &out)
		if err != nil {
			return fmt.Sprintf("Could not deploy release %s to %s: %v", fields[1], fields[2], err)
		}
		return fmt.Sprintf("Deployment %s of release %s to %s: %s.", out.Deploy.ID, fields[1], fields[2], out.Deploy.Status)
	case "status":
		if len(fields) < 2 {
			return "usage: status <definition>"
		}
		return b.status(ctx, rest(1))
	}
	return usage
}

// status describes what each environment of a definition runs.
func (b *bot) status(ctx context.Context, name string) string {
	var defs struct {
		Definitions struct {
			Edges []struct {
				Node struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"definitions"`
	}
	if err := b.graphql(ctx, `query($n: String!) { definitions(first: 1, where: {name: $n}) { edges { node { id name } } } }`,
		map[string]any{"n": name}, &defs); err != nil {
		return fmt.Sprintf("Could not read %s: %v", name, err)
	}
	if len(defs.Definitions.Edges) == 0 {
		return fmt.Sprintf("No definition named %q.", name)
	}
	var cur struct {
		Current []struct {
			Environment string `json:"environment"`
			Current     *struct {
				Name string `json:"name"`
			} `json:"current"`
			Latest *struct {
				Status  string `json:"status"`
				Release struct {
					Name string `json:"name"`
				} `json:"release"`
			} `json:"latest"`
		} `json:"currentDeployments"`
	}
	if err := b.graphql(ctx, `query($d: ID!) { currentDeployments(definitionId: $d) { environment current { name } latest { status release { name } } } }`,
		map[string]any{"d": defs.Definitions.Edges[0].Node.ID}, &cur); err != nil {
		return fmt.Sprintf("Could not read %s: %v", name, err)
	}
	var lines []string
	for _, e := range cur.Current {
		line := e.Environment + ": "
		if e.Current != nil {
			line += "runs " + e.Current.Name
		} else {
			line += "nothing deployed"
		}
		if e.Latest != nil && (e.Current == nil || e.Latest.Release.Name != e.Current.Name) {
			line += fmt.Sprintf(" (latest: %s %s)", e.Latest.Release.Name, e.Latest.Status)
		}
		lines = append(lines, line)
	}
	return name + ": " + strings.Join(lines, "; ")
}

// gqlError is a GraphQL error as the server presents it.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) String() string {
	if code, ok := e.Extensions["code"].(string); ok {
		return fmt.Sprintf("%s (%s)", e.Message, code)
	}
	return e.Message
}

// graphql posts a query with the bot's token and decodes its data into out.
func (b *bot) graphql(ctx context.Context, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.cfg.Server+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.cfg.Token)
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var res struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&res); err != nil {
		return fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if len(res.Errors) > 0 {
		return errors.New(res.Errors[0].String())
	}
	return json.Unmarshal(res.Data, out)
}
