package peer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// DialWHIP publishes o.Clip, or o.Colour and o.Tone, to a WHIP endpoint
// (http://host/whip/room): the offer is sendonly, so nothing comes back.
// o.URL is the endpoint; o.Token, if set, is sent as a bearer token.
func DialWHIP(ctx context.Context, o Options) (*Client, error) {
	return dialHTTP(ctx, o, true)
}

// DialWHEP watches a room through a WHEP endpoint (http://host/whep/room):
// the offer is recvonly, and the client decodes or counts what comes as
// Dial does.
func DialWHEP(ctx context.Context, o Options) (*Client, error) {
	o.Colour, o.Tone, o.Clip = nil, 0, nil
	return dialHTTP(ctx, o, false)
}

func dialHTTP(ctx context.Context, o Options, publish bool) (*Client, error) {
	if o.Width == 0 {
		o.Width, o.Height = 320, 240
	}
	if o.FPS == 0 {
		o.FPS = 15
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{opts: o, ctx: cctx, cancel: cancel, lastSeq: -1}
	c.sendVideo.Store(o.Colour != nil || o.Clip != nil)
	if o.Clip != nil {
		c.sent = make([]atomic.Int64, len(o.Clip.Video))
	}
	if err := c.negotiateHTTP(ctx, publish); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) negotiateHTTP(ctx context.Context, publish bool) error {
	api, err := newAPI(c.opts)
	if err != nil {
		return err
	}
	if c.pc, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return err
	}
	var vt, at *webrtc.TrackLocalStaticSample
	if publish {
		mime := webrtc.MimeTypeVP8
		if c.opts.VideoCodec == "h264" {
			mime = webrtc.MimeTypeH264
		}
		if vt, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime}, "video", c.opts.Name); err != nil {
			return err
		}
		if at, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", c.opts.Name); err != nil {
			return err
		}
		for _, t := range []*webrtc.TrackLocalStaticSample{vt, at} {
			tr, err := c.pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
			if err != nil {
				return err
			}
			video := t == vt
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				for {
					pkts, _, err := tr.Sender().ReadRTCP()
					if err != nil {
						return
					}
					for _, p := range pkts {
						if _, ok := p.(*rtcp.PictureLossIndication); ok && video {
							c.keyWanted.Store(true)
						}
					}
				}
			}()
		}
	} else {
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
			if _, err := c.pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				return err
			}
		}
		c.pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			c.wg.Add(1)
			go c.receive(t)
		})
	}
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.opts.URL, bytes.NewReader([]byte(c.pc.LocalDescription().SDP)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/sdp")
	c.authorize(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("peer: posting the offer: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("peer: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("peer: POST %s: %s: %s", c.opts.URL, resp.Status, answer)
	}
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("peer: the answer has no Location: %w", err)
	}
	c.resource = loc.String()
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		return err
	}
	if publish {
		c.startPublishing(vt, at)
	}
	return nil
}

func (c *Client) authorize(req *http.Request) {
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
}

// Resource is the session URL a WHIP or WHEP endpoint answered with.
func (c *Client) Resource() string { return c.resource }

// deleteResource ends a WHIP or WHEP session.
func (c *Client) deleteResource() error {
	if _, err := url.Parse(c.resource); err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodDelete, c.resource, nil)
	if err != nil {
		return err
	}
	c.authorize(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("peer: DELETE %s: %s", c.resource, resp.Status)
	}
	return nil
}

// RemoteSDP is the answer (or offer) the other side sent.
func (c *Client) RemoteSDP() string {
	if d := c.pc.RemoteDescription(); d != nil {
		return d.SDP
	}
	return ""
}
