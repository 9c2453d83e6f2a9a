using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace WebLlm.Server.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class ExternalRuns : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Engine",
                table: "Runs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Source",
                table: "Runs",
                type: "TEXT",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Engine",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "Source",
                table: "Runs");
        }
    }
}
