package dev.concurry.spring;

import dev.concurry.limit.Acquisition;
import java.util.concurrent.CompletableFuture;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.context.annotation.Import;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** A small Boot application: a controller calling {@code @Limited} services, limits from {@code llm-test.yml}. */
@SpringBootConfiguration
@EnableAutoConfiguration
@Import({LlmTestApp.Llm.class, LlmTestApp.Outer.class, LlmTestApp.Api.class})
class LlmTestApp {

    /** The service: reserves an estimate of tokens with a request, settles to what the "provider" reported. */
    static class Llm {

        @Limited(set = "settle", request = "requests=1, tokens=#estimate(#prompt)", timeout = "0")
        public String complete(String prompt, int usedTokens, Acquisition acquisition) {
            acquisition.update("tokens", usedTokens);
            return "granted " + ConcurryContext.current().granted();
        }

        @Limited(set = "tight", request = "requests=1, tokens=#maxTokens", timeout = "0")
        public String tight(int maxTokens) throws InterruptedException {
            Thread.sleep(20);          // overlapping calls: several hold their grant at once
            return "ok";
        }

        @Limited(set = "slots", request = "slots=1", timeout = "0")
        public CompletableFuture<String> later(CompletableFuture<String> answer) {
            return answer;
        }

        @Limited(set = "slots", request = "slots=1", timeout = "150ms", fallbackMethod = "busy")
        public String withFallback(String name) {
            return "hello " + name;
        }

        String busy(String name, LimitRejectedException e) {
            return "busy for " + name + " (" + e.limiter() + ")";
        }

        @Limited(set = "slots", request = "slots=1", timeout = "${test.wait:100ms}")
        public String waiting() {
            return "ran";
        }

        @Limited(set = "regions", request = "tpm=10")
        public String region() {
            return ConcurryContext.current().config().get("region");
        }

        private int estimate(String prompt) {
            return prompt.length() * 10;
        }
    }

    /** Calls the service from inside its own {@code @Limited} method: nested acquisitions. */
    static class Outer {
        private final Llm llm;

        Outer(Llm llm) {
            this.llm = llm;
        }

        @Limited(set = "slots", request = "slots=1")
        public String nested() {
            Acquisition outer = ConcurryContext.current();
            String inner = llm.complete("x", 1, null);
            return (ConcurryContext.current() == outer) + ", inner " + inner;
        }
    }

    @RestController
    static class Api {
        private final Llm llm;

        Api(Llm llm) {
            this.llm = llm;
        }

        @GetMapping("/complete")
        String complete(@RequestParam String prompt, @RequestParam int used) {
            return llm.complete(prompt, used, null);
        }

        @GetMapping("/tight")
        String tight(@RequestParam int maxTokens) throws InterruptedException {
            return llm.tight(maxTokens);
        }
    }
}
