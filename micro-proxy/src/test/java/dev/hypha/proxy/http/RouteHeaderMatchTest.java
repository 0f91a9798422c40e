package dev.hypha.proxy.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.api.v1.HeaderMatch;
import dev.hypha.api.v1.RequestMatch;
import dev.hypha.api.v1.Route;
import dev.hypha.proxy.discovery.CompiledProfile;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import org.junit.jupiter.api.Test;

/** A ServiceProfile header condition against requests as the proxy holds them, from either protocol. */
class RouteHeaderMatchTest {

    private static CompiledProfile headerRoute(String name, String value) {
        return CompiledProfile.of(DestinationProfile.newBuilder().addRoutes(Route.newBuilder().setName("canary")
                .setCondition(RequestMatch.newBuilder().setHeader(HeaderMatch.newBuilder().setName(name)
                        .setExact(value)))).build());
    }

    @Test
    void aHeaderConditionMatchesWhateverTheCaseOfItsNameAndOfTheHop() throws Exception {
        CompiledProfile p = headerRoute("X-Canary", "1");
        HttpRequest fromHttp1 = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        fromHttp1.headers().add("x-CANARY", "1");
        assertEquals("canary", p.match(fromHttp1).name());

        // a request that came over HTTP/2 holds HTTP/2's lower-case map
        HttpRequest fromHttp2 = http2Request(new DefaultHttp2Headers().method("GET").path("/").scheme("http")
                .authority("svc:80").add("x-canary", "1"));
        assertEquals("canary", p.match(fromHttp2).name());
        HttpRequest other = http2Request(new DefaultHttp2Headers().method("GET").path("/").scheme("http")
                .authority("svc:80").add("x-canary", "2"));
        assertEquals(RoutePolicy.DEFAULT, p.match(other).name());
    }

    private static HttpRequest http2Request(io.netty.handler.codec.http2.Http2Headers h) throws Exception {
        return (HttpRequest) H2Heads.message(h, true, true, 3);
    }
}
