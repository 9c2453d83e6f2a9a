using System.Text.Json.Serialization;

namespace WebLlm.Contracts;

/// <summary>
/// A model file already in the server's <c>imports</c> folder (under the data directory): a Hugging Face GPT-2
/// folder (<c>model.safetensors</c> + <c>config.json</c>) or an llm.c model <c>.bin</c>.
/// </summary>
/// <param name="Format">"hf" or "llmc".</param>
/// <param name="Description">The shape read from the file's header, or why it cannot be imported.</param>
public sealed record ImportCandidateDto(string Name, string Format, long SizeBytes, bool Importable, string Description);

/// <summary>
/// <c>POST /api/imports</c>: makes <see cref="Name"/> (an entry of <c>GET /api/imports</c>, never a path) a run
/// whose checkpoint at step 0 the playground and the API can use. The tokenizer is GPT-2's for a 50257-token
/// vocabulary, else that of <see cref="DatasetId"/>.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ImportRequest
{
    public string Name { get; init; } = "";
    public string? RunName { get; init; }
    public int? DatasetId { get; init; }
}
