using System.CommandLine;
using WebLlm.Training.Data;
using WebLlm.Training.Tokenization;

namespace WebLlm.Cli;

/// <summary>Exit codes and error reporting shared by every command.</summary>
public static class CliRunner
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int BadArguments = 2;
    public const int Interrupted = 130;

    public static int Run(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            string command = parse.CommandResult.Command == root ? "" : " " + parse.CommandResult.Command.Name;
            string message = OneLine(parse.Errors[0].Message.Replace("\t", "", StringComparison.Ordinal).Replace(":" + Environment.NewLine, ": ", StringComparison.Ordinal));
            Console.Error.WriteLine($"webllm: {message} (see 'webllm{command} --help')");
            return BadArguments;
        }
        return parse.Invoke();
    }

    /// <summary>
    /// Runs a command body. Problems with the user's input (bad values, missing or malformed files) are one
    /// line on stderr and exit code 2; anything else that fails is exit code 1.
    /// </summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException
                                      or InvalidDataException or InvalidTextException or Gpt2VocabUnavailableException)
        {
            Console.Error.WriteLine("webllm: " + OneLine(e.Message));
            return BadArguments;
        }
        catch (HttpRequestException e)
        {
            Console.Error.WriteLine("webllm: " + OneLine(e.Message));
            return Failure;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.Error.WriteLine("webllm: failed: " + OneLine(e.Message));
            return Failure;
        }
    }

    public static string OneLine(string message) => string.Join(' ', message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>The --gpt2-vocab option every command that may need GPT-2's BPE files takes.</summary>
    public static Option<string?> Gpt2VocabOption() => new("--gpt2-vocab")
    {
        Description = $"Folder with GPT-2's encoder.json and vocab.bpe (default: ${Gpt2Vocab.EnvironmentVariable}, then the cache, then download).",
    };

    /// <summary>Loads GPT-2's vocabulary only when <paramref name="spec"/> needs it.</summary>
    public static Gpt2Vocab? VocabFor(string tokenizerKind, string? gpt2VocabDir) =>
        tokenizerKind == TokenizerSpec.Gpt2Kind ? Gpt2Vocab.Load(gpt2VocabDir) : null;
}
