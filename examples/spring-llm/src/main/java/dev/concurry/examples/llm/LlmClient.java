package dev.concurry.examples.llm;

import dev.concurry.limit.Acquisition;
import dev.concurry.spring.Limited;
import org.springframework.http.HttpStatusCode;
import org.springframework.stereotype.Service;
import org.springframework.web.client.RestClient;

/** The application's client of the provider: every call reserves its tokens first, then settles. */
@Service
class LlmClient {
    private final RestClient http;
    private final ProviderAddress provider;

    LlmClient(RestClient.Builder http, ProviderAddress provider) {
        this.http = http.build();
        this.provider = provider;
    }

    /** What one call returned: the text, or null with the status when the provider refused it. */
    record Completion(String text, int tokens, int status) {
    }

    /**
     * One completion: takes a request and {@code maxTokens} tokens from the {@code openai} set before
     * calling, and settles the tokens to what the provider reports it used.
     */
    @Limited(set = "openai", request = "requests=1, tokens=#maxTokens")
    public Completion complete(String prompt, int maxTokens, Acquisition acquisition) {
        long grantedAt = System.nanoTime();
        var response = http.post().uri(provider.url() + "/mock/v1/completions")
                .header("X-Sent-At", Long.toString(grantedAt))
                .body(new MockProvider.CompletionRequest(prompt, maxTokens))
                .retrieve()
                .onStatus(HttpStatusCode::isError, (request, reply) -> {
                })   // a 429 is counted, not thrown
                .toEntity(MockProvider.CompletionResponse.class);
        if (!response.getStatusCode().is2xxSuccessful() || response.getBody() == null) {
            return new Completion(null, 0, response.getStatusCode().value());
        }
        int used = response.getBody().usage().total_tokens();
        acquisition.update("tokens", used);          // reserved maxTokens, used fewer: the rest is refunded
        return new Completion(response.getBody().text(), used, 200);
    }
}
