// Package names holds the project's own word lists for synthetic people and places. They are short,
// invented or very common words, so generated data never describes a real person.
package names

var First = []string{
	"Aarav", "Aditi", "Akash", "Ananya", "Arjun", "Avni", "Bhavna", "Chetan", "Deepa", "Dev", "Divya", "Farah",
	"Gaurav", "Geeta", "Harish", "Ishaan", "Isha", "Jaya", "Kabir", "Kavya", "Kiran", "Lata", "Manish", "Meera",
	"Mohan", "Nandini", "Neha", "Nikhil", "Omar", "Pooja", "Pranav", "Priya", "Rahul", "Ravi", "Riya", "Rohan",
	"Sahil", "Sana", "Sanjay", "Shreya", "Suresh", "Tanvi", "Uday", "Usha", "Varun", "Vidya", "Yash", "Zoya",
	"Alex", "Avery", "Blake", "Casey", "Dana", "Eli", "Finley", "Harper", "Jamie", "Jordan", "Kai", "Logan",
	"Morgan", "Noor", "Parker", "Quinn", "Reese", "Rowan", "Sam", "Taylor",
}

var Last = []string{
	"Acharya", "Agarwal", "Bhat", "Bose", "Chatterjee", "Das", "Desai", "Gill", "Gupta", "Iyer", "Jain", "Joshi",
	"Kapoor", "Khan", "Kulkarni", "Kumar", "Menon", "Mishra", "Nair", "Patel", "Pillai", "Rao", "Reddy", "Saxena",
	"Shah", "Sharma", "Singh", "Sinha", "Thakur", "Varma", "Yadav", "Zaidi",
	"Abbott", "Baker", "Carter", "Ellis", "Fischer", "Grant", "Hayes", "Irwin", "Keller", "Lopez", "Moreno",
	"Okafor", "Price", "Quinn", "Reyes", "Silva", "Turner", "Walsh",
}

var Streets = []string{
	"Market", "Temple", "Station", "Lake", "Church", "Mill", "Garden", "Park", "River", "Hill", "School", "Canal",
	"Fort", "Palace", "Bazaar", "College", "Harbour", "Bridge", "Orchard", "Mango",
}

var StreetKinds = []string{"Road", "Street", "Lane", "Marg", "Avenue", "Cross", "Nagar"}

var Towns = []string{
	"Amberpur", "Bhimgarh", "Chandrakot", "Devnagar", "Gangapet", "Haridham", "Indrapuram", "Jaysar", "Kamawadi",
	"Lakshmiganj", "Madhuhalli", "Nandabad", "Padmapur", "Ramkot", "Sagarnagar", "Taragarh", "Umapet", "Vasupur",
	"Ashford", "Brookfield", "Cedarvale", "Dunmore", "Elmstead", "Fairhaven", "Glenrock", "Highmoor",
}
