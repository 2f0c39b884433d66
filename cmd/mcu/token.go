package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mcu-dev/mcu/auth"
)

// loadKeys reads MCU_KEYS and, when given, a YAML keys file; MCU_KEYS
// comes first, so its first key is the signing key.
func loadKeys(file string) (*auth.Keys, error) {
	keys, err := auth.ParseKeys(os.Getenv("MCU_KEYS"))
	if err != nil {
		return nil, fmt.Errorf("MCU_KEYS: %w", err)
	}
	if file == "" {
		return keys, nil
	}
	fromFile, err := auth.LoadKeysFile(file)
	if err != nil {
		return nil, err
	}
	return keys.Merge(fromFile)
}

// runToken prints an access token signed with the first key of MCU_KEYS.
func runToken(_ context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	room := fs.String("room", "", "room the token is for (required unless -list alone)")
	identity := fs.String("identity", "", "participant identity, the token's sub (required)")
	name := fs.String("name", "", "display name (default: the identity)")
	admin := fs.Bool("admin", false, "grant roomAdmin: change the room's output, mute others, manage its recordings")
	record := fs.Bool("record", false, "grant roomRecord: start, stop, download and delete the room's recordings")
	list := fs.Bool("list", false, "grant roomList: list every room and recording")
	noJoin := fs.Bool("no-join", false, "leave out roomJoin (an operator or API token that does not join)")
	receiveOnly := fs.Bool("receive-only", false, "canPublish=false: join without sending camera or microphone")
	validFor := fs.Duration("valid-for", 6*time.Hour, "how long the token is valid")
	keysFile := fs.String("keys-file", os.Getenv("MCU_KEYS_FILE"), "YAML file of \"key: secret\" pairs, after MCU_KEYS (env MCU_KEYS_FILE)")
	link := fs.String("url", "", "also print a link to the web client at this base URL, e.g. https://mcu.example.org")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: mcu token -room R -identity I [-name N] [-admin] [-record] [-list] [-valid-for 6h]
Prints an access token (LiveKit format, HS256) signed with the first key of MCU_KEYS.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "mcu token: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *identity == "":
		fmt.Fprintln(stderr, "mcu token: -identity is required")
		return 2
	case *room == "" && !(*list && *noJoin) && !(*record && *noJoin):
		fmt.Fprintln(stderr, "mcu token: -room is required (or -no-join with -list or -record for a server-wide token)")
		return 2
	case *validFor <= 0:
		fmt.Fprintln(stderr, "mcu token: -valid-for must be positive")
		return 2
	}
	keys, err := loadKeys(*keysFile)
	if err != nil {
		fmt.Fprintf(stderr, "mcu token: %v\n", err)
		return 1
	}
	if keys.Len() == 0 {
		fmt.Fprintln(stderr, `mcu token: no key to sign with: set MCU_KEYS="key: secret" (make one with "mcu keys")`)
		return 1
	}
	if *name == "" {
		*name = *identity
	}
	grant := auth.VideoGrant{Room: *room, RoomJoin: !*noJoin, RoomAdmin: *admin, RoomRecord: *record, RoomList: *list}
	if *receiveOnly {
		grant.CanPublish = new(bool)
	}
	tok, err := keys.Mint(auth.NewClaims(*identity, *name, grant, *validFor))
	if err != nil {
		fmt.Fprintf(stderr, "mcu token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	if *link != "" {
		q := url.Values{"token": {tok}}
		if *room != "" {
			q.Set("room", *room)
		}
		fmt.Fprintf(stdout, "%s/?%s\n", strings.TrimRight(*link, "/"), q.Encode())
	}
	return 0
}

// runKeys prints a new API key and secret in the MCU_KEYS format.
func runKeys(_ context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: mcu keys
Prints a new API key and a random secret as "key: secret", the format of
MCU_KEYS and of a keys file.`)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mcu keys: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	key, secret := auth.GenerateKey()
	fmt.Fprintf(stdout, "%s: %s\n", key, secret)
	return 0
}
