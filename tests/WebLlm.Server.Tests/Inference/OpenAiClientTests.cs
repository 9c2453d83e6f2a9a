using System.ClientModel;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;
using ChatCompletion = OpenAI.Chat.ChatCompletion;

namespace WebLlm.Server.Tests.Inference;

/// <summary>The official OpenAI .NET SDK and Microsoft.Extensions.AI as real clients over HTTP.</summary>
public class OpenAiClientTests(InferenceFixture fixture) : IClassFixture<InferenceFixture>
{
    private OpenAIClient Client => new(new ApiKeyCredential("not-checked"), new OpenAIClientOptions { Endpoint = new Uri(fixture.Server.Address, "/v1"), NetworkTimeout = TimeSpan.FromMinutes(2) });

#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
    private static ChatCompletionOptions Options(int maxTokens = 12) => new() { MaxOutputTokenCount = maxTokens, Seed = 42, Temperature = 0.9f };
#pragma warning restore OPENAI001

    [Fact]
    public async Task Sdk_chat_and_streaming_chat_give_the_same_seeded_answer_with_usage()
    {
        var chat = Client.GetChatClient(fixture.Run.Name);
        List<OpenAI.Chat.ChatMessage> messages = [new SystemChatMessage("You are terse."), new UserChatMessage("Say the word.")];

        ChatCompletion answer = await chat.CompleteChatAsync(messages, Options());
        Assert.Equal(ChatMessageRole.Assistant, answer.Role);
        Assert.Equal($"{fixture.Run.Id}@{fixture.Run.LatestCheckpointStep}", answer.Model);
        Assert.InRange(answer.Usage.OutputTokenCount, 1, 12);
        // "System: You are terse.\nUser: Say the word.\nAssistant:" with the character tokenizer: one token a character.
        Assert.Equal("System: You are terse.\nUser: Say the word.\nAssistant:".Length, answer.Usage.InputTokenCount);
        Assert.Contains(answer.FinishReason, new[] { ChatFinishReason.Stop, ChatFinishReason.Length });
        string text = answer.Content.Count == 0 ? "" : answer.Content[0].Text;
        Assert.False(text.Contains("\nUser:", StringComparison.Ordinal), text);

        var streamed = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, Options()))
        {
            updates++;
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(text, streamed.ToString());
        Assert.Equal(answer.FinishReason, finish);
        Assert.True(updates >= 2, $"{updates} updates");
        Assert.NotNull(usage);
        Assert.Equal(answer.Usage.OutputTokenCount, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Extensions_AI_chat_client_answers_and_streams()
    {
        IChatClient chat = Client.GetChatClient(fixture.Run.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).AsIChatClient();
        var options = new ChatOptions { MaxOutputTokens = 10, Seed = 7, Temperature = 0.8f };
        List<Microsoft.Extensions.AI.ChatMessage> messages = [new(ChatRole.User, "Hello there")];

        var response = await chat.GetResponseAsync(messages, options);
        Assert.NotNull(response.Usage);
        Assert.InRange(response.Usage.OutputTokenCount!.Value, 1, 10);
        Assert.Equal("User: Hello there\nAssistant:".Length, response.Usage.InputTokenCount);

        var streamed = new System.Text.StringBuilder();
        await foreach (var update in chat.GetStreamingResponseAsync(messages, options)) streamed.Append(update.Text);
        Assert.Equal(response.Text, streamed.ToString());

        var again = await chat.GetResponseAsync(messages, options);
        Assert.Equal(response.Text, again.Text);
    }

    [Fact]
    public async Task Sdk_lists_runs_with_checkpoints_as_models_and_unknown_models_fail_with_404()
    {
        var models = (await Client.GetOpenAIModelClient().GetModelsAsync()).Value;
        var model = Assert.Single(models, m => m.Id == fixture.Run.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("webllm", model.OwnedBy);

        var missing = await Assert.ThrowsAsync<ClientResultException>(() => Client.GetChatClient("no-such-run").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, missing.Status);
        Assert.Contains("no-such-run", missing.Message, StringComparison.Ordinal);
    }
}
