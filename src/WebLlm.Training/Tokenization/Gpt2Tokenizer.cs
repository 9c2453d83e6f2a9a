using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace WebLlm.Training.Tokenization;

/// <summary>
/// GPT-2's byte-level BPE with OpenAI's ids ("Hello, world!" → 15496 11 995 0, "&lt;|endoftext|&gt;" → 50256).
/// </summary>
/// <remarks>
/// Built on <see cref="TiktokenTokenizer"/> rather than <c>CodeGenTokenizer.Create</c>: CodeGen registers
/// extra special tokens for runs of 2–31 spaces and 2–9 tabs (ids 50257–50294), so "  x" would encode to
/// ids GPT-2 does not have. tiktoken's "gpt2" encoding uses GPT-2's own split pattern and only
/// &lt;|endoftext|&gt; as special token; its merge ranks are exactly encoder.json's ids (tiktoken derives
/// them from vocab.bpe and checks they match), so we only need to turn encoder.json into tiktoken's format.
/// </remarks>
public sealed class Gpt2Tokenizer : Tokenizer
{
    public const int EndOfTextId = 50256;
    public const string EndOfTextText = "<|endoftext|>";
    public const int Gpt2VocabSize = 50257;

    private readonly TiktokenTokenizer _tokenizer;

    public Gpt2Tokenizer(Gpt2Vocab vocab)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        using var ranks = new MemoryStream(ToTiktokenRanks(vocab.EncoderJson.Span));
        _tokenizer = TiktokenTokenizer.CreateForModel("gpt2", ranks);
    }

    public override string Kind => TokenizerSpec.Gpt2Kind;

    public override int VocabSize => Gpt2VocabSize;

    public override int? EndOfText => EndOfTextId;

    public override TokenizerSpec Spec => TokenizerSpec.Gpt2;

    /// <summary>Encodes text; a literal "&lt;|endoftext|&gt;" in it becomes the single id 50256.</summary>
    public override int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. _tokenizer.EncodeToIds(text)];
    }

    public override string Decode(ReadOnlySpan<int> ids)
    {
        foreach (var id in ids)
        {
            if ((uint)id >= Gpt2VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside GPT-2's vocabulary (size {Gpt2VocabSize}).");
            }
        }

        return _tokenizer.Decode(ids.ToArray());
    }

    /// <summary>
    /// encoder.json spells each token's bytes with GPT-2's printable byte-to-char table; tiktoken wants
    /// "base64(bytes) rank" lines. The special token is left out: CreateForModel adds it itself.
    /// </summary>
    private static byte[] ToTiktokenRanks(ReadOnlySpan<byte> encoderJson) =>
        Encoding.UTF8.GetBytes(BpeTokenizer.ToTiktoken(TokenBytes(encoderJson)));

    /// <summary>The bytes of GPT-2's tokens 0-50255 in id order (without &lt;|endoftext|&gt;), from encoder.json.</summary>
    internal static byte[][] TokenBytes(ReadOnlySpan<byte> encoderJson)
    {
        var encoder = JsonSerializer.Deserialize<Dictionary<string, int>>(encoderJson)
            ?? throw new InvalidDataException("encoder.json is empty.");
        var byteOf = CharToByte();
        var tokens = new byte[EndOfTextId][];
        foreach (var (token, id) in encoder)
        {
            if (token == EndOfTextText)
            {
                continue;
            }

            tokens[id] = [.. token.Select(c => byteOf[c])];
        }

        return tokens;
    }

    /// <summary>Inverse of GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256+n.</summary>
    private static Dictionary<char, byte> CharToByte()
    {
        static bool Printable(int b) => b is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';

        var map = new Dictionary<char, byte>(256);
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            map[(char)(Printable(b) ? b : next++)] = (byte)b;
        }

        return map;
    }
}
