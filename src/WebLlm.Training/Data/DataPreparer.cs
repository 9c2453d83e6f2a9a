using System.Runtime.InteropServices;
using System.Security.Cryptography;
using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Data;

/// <summary>
/// Turns text into a dataset folder (train.bin, val.bin, meta.json), as nanoGPT's prepare.py and llm.c's
/// data scripts do: documents are read in a fixed order, encoded, concatenated and split into train = the
/// first (1 - ValFraction) of the tokens and val = the rest (at least one token each).
/// </summary>
/// <remarks>
/// gpt2 puts &lt;|endoftext|&gt; (50256) before every document, like llm.c. char has no such token, so
/// documents are joined with a newline where one does not already end them.
/// The folder is assembled under a temporary name and renamed into place, so a folder with that name is
/// always complete. The work is synchronous and CPU-bound; callers that must not block use Task.Run.
/// </remarks>
public static class DataPreparer
{
    public const string BuiltinSource = "builtin";

    public static DatasetMeta Prepare(DataPrepRequest request, IProgress<DataPrepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ValFraction is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.ValFraction, "ValFraction must be between 0 and 1 (exclusive).");
        }

        var output = Path.GetFullPath(request.OutputDirectory);
        ThrowIfOccupied(output, request.Overwrite);

        var (documents, sourceSha256) = ReadDocuments(request, progress, cancellationToken);
        if (documents.Count == 0)
        {
            throw new InvalidDataException($"{request.Source} contains no text.");
        }

        var tokenizer = CreateTokenizer(request, documents, progress, cancellationToken);
        var tokens = Tokenize(documents, tokenizer, progress, cancellationToken);
        if (tokens.Count < 2)
        {
            throw new InvalidDataException($"{request.Source} gives {tokens.Count} token(s); a dataset needs at least 2 (one for train, one for val).");
        }

        var trainCount = (int)Math.Clamp(Math.Floor(tokens.Count * (1 - request.ValFraction)), 1, tokens.Count - 1);
        var meta = new DatasetMeta(tokenizer.Spec, tokenizer.VocabSize, trainCount, tokens.Count - trainCount, documents.Count,
            request.Source == BuiltinSource ? BuiltinSource : Path.GetFullPath(request.Source), sourceSha256, DateTimeOffset.UtcNow,
            ValBytes: TextBytes(tokenizer, CollectionsMarshal.AsSpan(tokens)[trainCount..]));
        Write(output, request.Overwrite, meta, CollectionsMarshal.AsSpan(tokens), progress, cancellationToken);
        return meta;
    }

    private static void ThrowIfOccupied(string output, bool overwrite)
    {
        if (!overwrite && Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
        {
            throw new ArgumentException($"{output} already exists and is not empty; choose another folder or pass --overwrite.");
        }
    }

    private static (List<CorpusDocument> Documents, string Sha256) ReadDocuments(
        DataPrepRequest request, IProgress<DataPrepProgress>? progress, CancellationToken cancellationToken)
    {
        var builtin = request.Source == BuiltinSource;
        var files = builtin ? BuiltinCorpus.Locate().Files : TextFiles(request.Source);
        var limit = request.MaxDocuments ?? int.MaxValue;
        var totalBytes = files.Sum(f => new FileInfo(f).Length);
        var doneBytes = 0L;
        var documents = new List<CorpusDocument>();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            if (documents.Count >= limit)
            {
                break;
            }

            cancellationToken.ThrowIfCancellationRequested();
            var bytes = File.ReadAllBytes(file);
            hash.AppendData(bytes);
            if (builtin)
            {
                using var xml = new MemoryStream(bytes, writable: false);
                documents.AddRange(BuiltinCorpus.ReadDocuments(xml).Take(limit - documents.Count));
            }
            else
            {
                documents.Add(new CorpusDocument(file, StrictUtf8.Decode(bytes, file)));
            }

            doneBytes += bytes.Length;
            progress?.Report(new DataPrepProgress(DataPrepPhase.Reading, doneBytes, totalBytes));
        }

        return (documents, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>A file as given, or a folder's .txt files in ordinal path order, so the same folder always gives the same tokens.</summary>
    private static string[] TextFiles(string source)
    {
        if (File.Exists(source))
        {
            return [Path.GetFullPath(source)];
        }

        if (Directory.Exists(source))
        {
            var files = Directory.GetFiles(Path.GetFullPath(source), "*.txt", SearchOption.AllDirectories);
            Array.Sort(files, StringComparer.Ordinal);
            return files;
        }

        throw new FileNotFoundException(
            $"The data source {source} is neither a text file, a folder of .txt files, nor '{BuiltinSource}'.", source);
    }

    /// <summary>
    /// UTF-8 bytes of the text <paramref name="tokens"/> stand for. &lt;|endoftext|&gt; separates documents and is not
    /// text: decoded, it would add 13 bytes a document and flatter gpt2 and bpe against char, which has no such token.
    /// </summary>
    private static long TextBytes(Tokenizer tokenizer, ReadOnlySpan<int> tokens)
    {
        var text = new List<int>(tokens.Length);
        foreach (int t in tokens)
            if (t != tokenizer.EndOfText) text.Add(t);
        return System.Text.Encoding.UTF8.GetByteCount(tokenizer.Decode(CollectionsMarshal.AsSpan(text)));
    }

    private static Tokenizer CreateTokenizer(DataPrepRequest request, List<CorpusDocument> documents, IProgress<DataPrepProgress>? progress,
        CancellationToken cancellationToken) => request.Tokenizer switch
    {
        TokenizerSpec.BpeKind => TrainBpe(request, documents, progress, cancellationToken),
        TokenizerSpec.CharKind => CharTokenizer.FromCorpus(documents.Select((d, i) => CharText(documents, i))),
        TokenizerSpec.Gpt2Kind => new Gpt2Tokenizer(request.Gpt2Vocab
            ?? throw new ArgumentException("The gpt2 tokenizer needs the GPT-2 vocabulary (DataPrepRequest.Gpt2Vocab).", nameof(request))),
        _ => throw new ArgumentException(
            $"Unknown tokenizer '{request.Tokenizer}'; expected '{TokenizerSpec.CharKind}', '{TokenizerSpec.Gpt2Kind}' or '{TokenizerSpec.BpeKind}'.", nameof(request)),
    };

    /// <summary>
    /// Learns the bpe merges from the documents that will make the training split (the first 1 - ValFraction of the text,
    /// by characters), so the validation text stays unseen by the tokenizer too.
    /// </summary>
    private static BpeTokenizer TrainBpe(DataPrepRequest request, List<CorpusDocument> documents, IProgress<DataPrepProgress>? progress,
        CancellationToken cancellationToken)
    {
        string pattern = request.Split switch
        {
            "gpt2" => ByteBpe.Gpt2Pattern,
            "gpt4" => ByteBpe.Gpt4Pattern,
            _ => throw new ArgumentException($"Unknown split pattern '{request.Split}'; expected gpt2 or gpt4.", nameof(request)),
        };
        string[] specials = request.ChatTokens ? [BpeTokenizer.EndOfTextText, .. BpeTokenizer.ChatTokens] : [BpeTokenizer.EndOfTextText];
        if (request.VocabSize < 256 + specials.Length || request.VocabSize > 65_536)
            throw new ArgumentException($"The bpe vocabulary size must be between {256 + specials.Length} (the bytes and special tokens) and 65536 " +
                $"(tokens are stored as uint16); got {request.VocabSize}.", nameof(request));
        long total = documents.Sum(d => (long)d.Text.Length), left = (long)(total * (1 - request.ValFraction));
        var train = new List<string>();
        foreach (var d in documents)
        {
            if (left <= 0) break;
            train.Add(d.Text.Length <= left ? d.Text : d.Text[..(int)left]); // a single file is cut where its validation part begins
            left -= d.Text.Length;
        }
        return new BpeTokenizer(BpeTrainer.Train(train, request.VocabSize, pattern, specials,
            (done, wanted) => progress?.Report(new DataPrepProgress(DataPrepPhase.TrainingTokenizer, done, wanted)), cancellationToken));
    }

    private static string CharText(List<CorpusDocument> documents, int index)
    {
        var text = documents[index].Text;
        return index < documents.Count - 1 && !text.EndsWith('\n') ? text + "\n" : text;
    }

    private static List<int> Tokenize(List<CorpusDocument> documents, Tokenizer tokenizer, IProgress<DataPrepProgress>? progress, CancellationToken cancellationToken)
    {
        var tokens = new List<int>();
        var reportEvery = Math.Max(1, documents.Count / 200);
        for (var i = 0; i < documents.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (tokenizer.EndOfText is { } endOfText)
            {
                tokens.Add(endOfText);
                tokens.AddRange(tokenizer.Encode(documents[i].Text));
            }
            else
            {
                tokens.AddRange(tokenizer.Encode(CharText(documents, i)));
            }

            if ((i + 1) % reportEvery == 0 || i == documents.Count - 1)
            {
                progress?.Report(new DataPrepProgress(DataPrepPhase.Tokenizing, i + 1, documents.Count));
            }
        }

        return tokens;
    }

    private static void Write(string output, bool overwrite, DatasetMeta meta, ReadOnlySpan<int> tokens,
        IProgress<DataPrepProgress>? progress, CancellationToken cancellationToken)
    {
        var parent = Path.GetDirectoryName(output) ?? throw new ArgumentException($"{output} cannot be a dataset folder.");
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(output)}.partial-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            var trainCount = (int)meta.TrainTokens;
            TokenShard.Write(Path.Combine(temp, DatasetMeta.TrainFileName), tokens[..trainCount]);
            progress?.Report(new DataPrepProgress(DataPrepPhase.Writing, 1, 3));
            TokenShard.Write(Path.Combine(temp, DatasetMeta.ValFileName), tokens[trainCount..]);
            progress?.Report(new DataPrepProgress(DataPrepPhase.Writing, 2, 3));
            meta.Save(temp);
            if (meta.Tokenizer is { Kind: TokenizerSpec.BpeKind, Vocabulary: { } ranks })
            {
                // The ranks as a file of their own too: tiktoken reads it as is (its SHA-256 is in meta.json).
                File.WriteAllText(Path.Combine(temp, BpeTokenizer.FileName), ranks);
            }
            progress?.Report(new DataPrepProgress(DataPrepPhase.Writing, 3, 3));

            cancellationToken.ThrowIfCancellationRequested();
            ThrowIfOccupied(output, overwrite);
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }

            Directory.Move(temp, output);
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }
}
