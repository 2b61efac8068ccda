import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';

/**
 * A client interceptor that gives every unary call a deadline `ms()` from
 * now, unless the call brings its own; streams run as long as they make
 * progress.
 */
export const unaryDeadlines =
  (ms: () => number): Interceptor =>
  (options, nextCall) => {
    const unary =
      !options.method_definition.requestStream && !options.method_definition.responseStream;
    return new InterceptingCall(
      nextCall(
        unary && options.deadline === undefined
          ? { ...options, deadline: Date.now() + ms() }
          : options,
      ),
    );
  };
