package dev.hypha.cli;

import dev.hypha.api.v1.ObserveRequest;
import dev.hypha.api.v1.StatsRequest;
import dev.hypha.api.v1.StatsResponse;
import dev.hypha.api.v1.TapEvent;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.lite.ProtoLiteUtils;

/** The two control-plane methods the CLI calls (descriptors written out: the CLI generates lite messages only). */
final class Rpc {
    static final MethodDescriptor<ObserveRequest, TapEvent> OBSERVE = MethodDescriptor
            .<ObserveRequest, TapEvent>newBuilder().setType(MethodDescriptor.MethodType.SERVER_STREAMING)
            .setFullMethodName("hypha.api.v1.Tap/Observe")
            .setRequestMarshaller(ProtoLiteUtils.marshaller(ObserveRequest.getDefaultInstance()))
            .setResponseMarshaller(ProtoLiteUtils.marshaller(TapEvent.getDefaultInstance())).build();
    static final MethodDescriptor<StatsRequest, StatsResponse> STATS = MethodDescriptor
            .<StatsRequest, StatsResponse>newBuilder().setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("hypha.api.v1.Stats/Get")
            .setRequestMarshaller(ProtoLiteUtils.marshaller(StatsRequest.getDefaultInstance()))
            .setResponseMarshaller(ProtoLiteUtils.marshaller(StatsResponse.getDefaultInstance())).build();

    private Rpc() {
    }
}
