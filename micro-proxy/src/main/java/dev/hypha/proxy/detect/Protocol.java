package dev.hypha.proxy.detect;

/** What the first bytes of a connection say it speaks. */
public enum Protocol {
    HTTP1, HTTP2, TLS, OPAQUE, NEED_MORE
}
